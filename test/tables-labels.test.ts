/**
 * Every label fixture (fixtures/labels, built by fixtures/make-labels.mjs) read at 512- and
 * 4096-byte sectors must give what the C kpartx listed for it: the same `-l` lines and the same
 * diagnostics. The one deliberate difference (real on-disk Solaris VTOCs are listed) is asserted
 * separately.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listingLines } from '../src/engine/listing.js';
import type { PartitionTable } from '../src/engine/partition.js';
import { readPartitionTable } from '../src/engine/tables/index.js';
import { imageNames, LABELS_DIR, loadXzImage, readRecordedListing } from './support/images.js';
import { memoryDisk } from './support/memory-disk.js';

const LISTING = { mapName: 'LOOP', delimiter: 'p', devicePath: '/dev/LOOP' };

/** Fixtures where this implementation deliberately differs from the C tool. */
const DELIBERATE = new Set(['solaris-ondisk']);

function read(name: string, sectorSize: number) {
  const bytes = loadXzImage(join(LABELS_DIR, `${name}.img.xz`));
  // A loop device with large sectors exposes whole sectors only.
  const disk = memoryDisk(bytes.subarray(0, bytes.length - (bytes.length % sectorSize)), sectorSize);
  const warnings: string[] = [];
  const table = readPartitionTable(disk, { warn: (line) => warnings.push(line) });
  return { table, warnings };
}

const lines = (table: PartitionTable | null) => (table ? listingLines(table, LISTING) : []);

describe('label fixtures match the C kpartx -l', () => {
  const names = imageNames(LABELS_DIR);
  it('has fixtures for every format this module reads', () => {
    for (const prefix of ['bsd', 'sun', 'solaris', 'unixware', 'mac', 'ps3', 'dasd']) {
      expect(names.some((n) => n.startsWith(prefix))).toBe(true);
    }
  });
  for (const name of names.filter((n) => !DELIBERATE.has(n))) {
    for (const sectorSize of [512, 4096]) {
      it(`${name} at ${sectorSize}-byte sectors`, () => {
        const suffix = sectorSize === 4096 ? '@4096' : '';
        const expected = readRecordedListing(join(LABELS_DIR, `${name}${suffix}.kpartx-l`));
        const { table, warnings } = read(name, sectorSize);
        expect(lines(table)).toEqual(expected.stdout);
        expect(warnings).toEqual(expected.stderr);
      });
    }
  }
});

describe('slot details', () => {
  it('BSD: the c slice contains the others, fstype names are kept', () => {
    const { table } = read('bsd-c', 512);
    expect(table?.type).toBe('bsd');
    expect(table?.slots.map((s) => [s.number, s.start, s.size, s.container, s.kind, s.type?.name])).toEqual([
      [1, 2048, 4096, 3, 'nested', '4.2BSD'],
      [2, 6144, 4096, 3, 'nested', 'swap'],
      [3, 0, 16384, 0, 'primary', '4.2BSD'],
    ]);
  });

  it('BSD: an overlapping slice is emptied but keeps its number', () => {
    const { table } = read('bsd-overlap', 512);
    expect(table?.slots.map((s) => [s.number, s.size])).toEqual([
      [1, 0],
      [2, 4096],
    ]);
  });

  it('Sun: all eight slots, tags from the label, slot 4 nested in the whole-disk slot 3', () => {
    const { table } = read('sun', 512);
    expect(table?.slots).toHaveLength(8);
    expect(table?.slots[3]).toMatchObject({
      number: 4,
      start: 96390,
      size: 16384,
      container: 3,
      kind: 'nested',
    });
    expect(table?.slots[2]?.type?.name).toBe('backup');
    expect(table?.slots[0]?.type?.name).toBe('Linux native');
  });

  it('Mac: the map and free space are partitions, with their Apple types and names', () => {
    const { table } = read('mac', 512);
    expect(table?.slots.map((s) => s.type?.code)).toEqual([
      'Apple_partition_map',
      expect.any(String),
      expect.any(String),
      'Apple_Free',
      'Apple_Free',
    ]);
    expect(table?.slots[1]?.name).toBe('p1');
    expect(table?.slots[2]?.name).toBe('p2');
  });

  it('UnixWare: a labelled slice of size 0 takes a number but is not listed', () => {
    const { table } = read('unixware', 512);
    expect(table?.slots.map((s) => [s.number, s.start, s.size])).toEqual([
      [1, 2048, 4096],
      [2, 6144, 4096],
      [3, 12000, 0],
    ]);
  });

  it('DASD VOL1: one partition per format-1/8 DSCB, format-4 skipped', () => {
    const { table } = read('dasd-vol1', 512);
    expect(table?.type).toBe('dasd');
    expect(table?.slots.map((s) => [s.number, s.start, s.size])).toEqual([
      [1, 735, 1470],
      [2, 2205, 735],
    ]);
  });
});

describe('deliberate differences from the C kpartx', () => {
  it('B7: a Solaris VTOC in the real 32-bit on-disk layout is listed (the C tool on x86_64 ignores it)', () => {
    const c = readRecordedListing(join(LABELS_DIR, 'solaris-ondisk.kpartx-l'));
    expect(c.stdout).toEqual([]);
    const { table, warnings } = read('solaris-ondisk', 512);
    expect(warnings).toEqual([]);
    // Same slices as the x86_64-layout fixture, which the C tool lists.
    const reference = readRecordedListing(join(LABELS_DIR, 'solaris-lp64.kpartx-l'));
    expect(lines(table)).toEqual(reference.stdout);
    expect(table?.slots.map((s) => s.type?.name)).toEqual(['root', 'swap', 'backup']);
  });
});

/** In-memory images for the bounds rules (B11): values the C tool wraps or overflows on. */
describe('B11: bounds the C tool does not check', () => {
  const image = (size: number, fill: (view: DataView, bytes: Uint8Array) => void) => {
    const bytes = new Uint8Array(size);
    fill(new DataView(bytes.buffer), bytes);
    return memoryDisk(bytes);
  };
  const readAll = (disk: ReturnType<typeof memoryDisk>) => {
    const warnings: string[] = [];
    return { table: readPartitionTable(disk, { warn: (l) => warnings.push(l) }), warnings };
  };

  it('Mac: block-size multiplication is exact (the C tool wraps at 2^32)', () => {
    const disk = image(16384, (v) => {
      v.setUint16(0, 0x4552);
      v.setUint16(2, 2048);
      v.setUint16(2048, 0x504d);
      v.setUint32(2048 + 4, 1);
      v.setUint32(2048 + 8, 0x80000000);
      v.setUint32(2048 + 12, 0x40000000);
    });
    expect(readAll(disk).table?.slots).toMatchObject([
      { number: 1, start: 0x80000000 * 4, size: 0x40000000 * 4 },
    ]);
  });

  it('Mac: a huge map count reads at most 256 entries', () => {
    const disk = image(600 * 512, (v) => {
      v.setUint16(0, 0x4552);
      v.setUint16(2, 512);
      for (let k = 1; k < 600; k++) {
        v.setUint16(k * 512, 0x504d);
        v.setUint32(k * 512 + 4, 0xffffffff);
        v.setUint32(k * 512 + 12, 1);
      }
    });
    expect(readAll(disk).table?.slots).toHaveLength(256);
  });

  it('PS3: 64-bit values beyond exact integers mean "not a PS3 label"', () => {
    const disk = image(4096, (v) => {
      v.setBigUint64(16, 0x0face0ffn);
      v.setBigUint64(24, 0xdeadfacen);
      v.setBigUint64(48, 2048n);
      v.setBigUint64(56, 1n << 60n);
    });
    expect(readAll(disk).table).toBeNull();
  });

  it('Solaris: a 64-bit slice size beyond exact integers means "not a VTOC"', () => {
    const disk = image(4096, (v) => {
      v.setBigUint64(512 + 24, 0x600ddeeen, true);
      v.setBigUint64(512 + 32, 1n, true);
      v.setUint32(512 + 136 + 4, 2048, true);
      v.setBigUint64(512 + 136 + 8, 1n << 62n, true);
    });
    expect(readAll(disk).table).toBeNull();
  });

  it('Sun: a start beyond exact integers (cylinder × geometry) means "not a Sun label"', () => {
    const disk = image(16384, (v) => {
      v.setUint16(436, 0xffff);
      v.setUint16(438, 0xffff);
      v.setUint32(444, 0xffffffff);
      v.setUint32(448, 1);
      v.setUint16(508, 0xdabe);
      let sum = 0;
      for (let off = 0; off < 510; off += 2) sum ^= v.getUint16(off);
      v.setUint16(510, sum);
    });
    expect(readAll(disk)).toEqual({ table: null, warnings: [] });
  });

  it('DASD LNX1: a formatted size below the first data block is no label (the C tool wraps to 2^64 - 2)', () => {
    const disk = image(1 << 20, (_, bytes) => {
      bytes.set([0xd3, 0xd5, 0xe7, 0xf1, 0xd3, 0xd5, 0xe7, 0xf1], 1024);
      bytes[1024 + 83] = 0xf2;
      new DataView(bytes.buffer).setBigUint64(1024 + 84, 1n, true);
    });
    expect(readAll(disk).table).toBeNull();
  });

  it('DASD VOL1: the VTOC walk stops at the end of the disk (the C tool re-reads its last block forever)', () => {
    const disk = image(1 << 20, (v, bytes) => {
      bytes.set([0xe5, 0xd6, 0xd3, 0xf1, 0xe5, 0xd6, 0xd3, 0xf1], 1024);
      v.setUint16(1024 + 17, 1, true); // head 1 → DSCBs from block 50
      for (let block = 50; block < 2048; block++) bytes[block * 512 + 44] = 0xf4; // format-4 DSCBs only
    });
    const began = performance.now();
    expect(readAll(disk).table).toBeNull();
    expect(performance.now() - began).toBeLessThan(2000);
  });

  it('DASD CMS1: a block size other than 512–4096 is no label', () => {
    const disk = image(1 << 20, (v, bytes) => {
      bytes.set([0xc3, 0xd4, 0xe2, 0xf1, 0xc3, 0xd4, 0xe2, 0xf1], 1024);
      v.setUint32(1024 + 16, 0x00100000, true); // 4096 written big-endian, read as the C tool does
      v.setUint32(1024 + 32, 1000, true);
    });
    expect(readAll(disk).table).toBeNull();
  });
});
