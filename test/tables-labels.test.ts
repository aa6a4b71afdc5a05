/**
 * Every label fixture (fixtures/labels, built by fixtures/make-labels.mjs) read at 512- and
 * 4096-byte sectors must give what the C kpartx listed for it: the same `-l` lines and the same
 * diagnostics. The one deliberate difference (real on-disk Solaris VTOCs are listed) is asserted
 * separately.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryDisk } from '../src/engine/disk.js';
import { listingLines } from '../src/engine/listing.js';
import type { PartitionTable } from '../src/engine/partition.js';
import { readPartitionTable } from '../src/engine/tables/index.js';
import { imageNames, LABELS_DIR, loadXzImage, readRecordedListing } from './support/images.js';

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
