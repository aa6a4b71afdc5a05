import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  corpusDir,
  fixtureImage,
  hasCorpus,
  readLikeKpartx,
  recording,
  renderList,
  xzImage,
} from '../fixtures/dos-gpt.js';
import { decodeGuid } from '../src/engine/guid.js';
import { createReadContext } from '../src/engine/tables/context.js';
import { gptReader } from '../src/engine/tables/gpt.js';
import { crc32, crc32Update } from '../src/io/crc32.js';
import { memoryDisk } from './support/memory-disk.js';

/** Fixtures where the C tool's GPT reading (then DOS, as kpartx tries them) is reproduced exactly. */
const SAME_AS_C = [
  't04',
  't05',
  't06',
  't07',
  't07-tdos',
  't08',
  't08-g',
  't09',
  't09-g',
  't10',
  't11',
  't12',
  't13',
  't13-noprimary',
  't14',
  't15',
  't15-512',
  't18c',
  't27',
];

function readGpt(bytes: Uint8Array, sectorSize = 512, forceGpt = false) {
  const warnings: string[] = [];
  const context = createReadContext(memoryDisk(bytes, sectorSize), {
    forceGpt,
    warn: (l) => warnings.push(l),
  });
  return { table: gptReader.read(context), warnings };
}

describe('CRC-32 and GUIDs', () => {
  it('crc32 equals zlib crc32', () => {
    const data = new Uint8Array(1000).map((_, i) => (i * 7919) & 0xff);
    expect(crc32(data)).toBe(zlib.crc32(data));
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32Update(crc32(data.subarray(0, 300)), data.subarray(300))).toBe(zlib.crc32(data));
  });

  it('decodes the mixed-endian layout', () => {
    // The EFI system partition type as it lies on disk: the first three fields little-endian.
    const bytes = Uint8Array.from([
      0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b,
    ]);
    expect(decodeGuid(bytes, 0)).toBe('c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
  });
});

describe('GPT reader against the C kpartx recordings', () => {
  it('reads a disk held in a Buffer without changing its bytes, the same table every time', () => {
    const rec = recording('t04');
    const bytes = Buffer.from(fixtureImage(rec.image));
    const before = Buffer.from(bytes);
    const first = readGpt(bytes, rec.sectorSize).table;
    expect(first?.slots.length).toBeGreaterThan(0);
    expect(readGpt(bytes, rec.sectorSize).table).toEqual(first);
    expect(bytes.equals(before)).toBe(true);
  });

  for (const label of SAME_AS_C) {
    it(`${label}: same slots and messages as kpartx -l`, () => {
      const rec = recording(label);
      const { table, warnings } = readLikeKpartx(fixtureImage(rec.image), rec.sectorSize, rec.options);
      expect(rec.exit).toBe(0);
      expect(renderList(table)).toEqual(rec.stdout);
      expect(warnings).toEqual(rec.stderr);
    });
  }

  it('t04: names (UTF-16), unique GUIDs, type names, attributes and disk GUID', () => {
    const { table } = readGpt(fixtureImage('t04.img'));
    expect(table!.type).toBe('gpt');
    expect(table!.diskId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(table!.slots.map((s) => s.name)).toEqual(['EFI System', 'root', 'my data', 'hōme ✓']);
    expect(table!.slots.map((s) => s.type)).toEqual([
      { code: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', name: 'EFI System' },
      { code: '0fc63daf-8483-4772-8e79-3d69d8477de4', name: 'Linux filesystem' },
      { code: '0fc63daf-8483-4772-8e79-3d69d8477de4', name: 'Linux filesystem' },
      { code: '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f', name: 'Linux swap' },
    ]);
    expect(table!.slots.map((s) => s.attributes)).toEqual(['0x0', '0x0', '0x8000000000000004', '0x0']);
    const uuids = new Set(table!.slots.map((s) => s.uuid));
    expect(uuids.size).toBe(4);
    expect(table!.slots.every((s) => s.kind === 'primary' && s.container === 0)).toBe(true);
  });

  it('t06: only the first 256 of 384 entries are read; trailing empty entries are dropped', () => {
    const { table } = readGpt(fixtureImage('t06.img'));
    expect(table!.slots).toHaveLength(256);
    expect(table!.slots.filter((s) => s.size > 0).map((s) => s.number)).toEqual([1, 3, 10, 256]);
  });

  it('t15: 4096-byte sectors are converted to 512-byte units', () => {
    const { table } = readGpt(fixtureImage('t15.img'), 4096);
    expect(table!.sectorSize).toBe(4096);
    expect(table!.slots[0]).toMatchObject({ start: 2048, size: 4096, name: 'boot' });
  });

  it('t27: both headers valid but different: the primary table is used', () => {
    const { table, warnings } = readGpt(fixtureImage('t27.img'));
    expect(table!.slots[0]!.name).toBe('renamed');
    expect(table!.slots[3]!.size).toBe(20000 - 14336 + 1);
    expect(warnings[0]).toMatch(
      /^GPT:partition_entry_array_crc32 values don't match: 0x[0-9a-f]+ != 0x[0-9a-f]+$/,
    );
  });
});

// --- hand-edited tables for the deliberate fixes ------------------------------------------------------

const u32 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
const setU32 = (b: Uint8Array, off: number, v: number) =>
  new DataView(b.buffer, b.byteOffset).setUint32(off, v, true);
const setU64 = (b: Uint8Array, off: number, v: bigint) =>
  new DataView(b.buffer, b.byteOffset).setBigUint64(off, v, true);

/** Recomputes the entry array CRC and then the header CRC of the header at `lba` (512-byte sectors). */
function reseal(b: Uint8Array, lba: number) {
  const h = lba * 512;
  const entries = Number(new DataView(b.buffer).getBigUint64(h + 72, true)) * 512;
  const bytes = u32(b, h + 80) * u32(b, h + 84);
  setU32(b, h + 88, zlib.crc32(b.subarray(entries, entries + bytes)));
  setU32(b, h + 16, 0);
  setU32(b, h + 16, zlib.crc32(b.subarray(h, h + u32(b, h + 12))));
}

/** t04 with `edit` applied to both headers (or their entry arrays) and both resealed. */
function editedT04(edit: (b: Uint8Array, headerLba: number) => void) {
  const b = fixtureImage('t04.img').slice();
  const last = b.length / 512 - 1;
  for (const lba of [1, last]) {
    edit(b, lba);
    reseal(b, lba);
  }
  return b;
}

const entryOffset = (b: Uint8Array, headerLba: number, index: number) =>
  Number(new DataView(b.buffer).getBigUint64(headerLba * 512 + 72, true)) * 512 + index * 128;

describe('GPT reader: deliberate fixes (B11)', () => {
  it('the editing helper itself keeps a table valid', () => {
    const { table, warnings } = readGpt(editedT04(() => {}));
    expect(table!.slots).toHaveLength(4);
    expect(warnings).toEqual([]);
  });

  it('header_size outside 92..sector size makes a header invalid', () => {
    for (const size of [91, 513, 0xffffffff]) {
      const b = editedT04((img, lba) => setU32(img, lba * 512 + 12, size));
      expect(readGpt(b).table).toBeNull();
    }
    const ok = editedT04((img, lba) => setU32(img, lba * 512 + 12, 512));
    expect(readGpt(ok).table).not.toBeNull();
  });

  it('absurd entry counts and arrays outside the disk are refused before reading', () => {
    const huge = editedT04((img, lba) => setU32(img, lba * 512 + 80, 0x02000000)); // 4 GiB array, wraps in C
    expect(readGpt(huge).table).toBeNull();
    const zero = editedT04((img, lba) => setU32(img, lba * 512 + 80, 0));
    expect(readGpt(zero).table).toBeNull();
    const outside = fixtureImage('t04.img').slice();
    setU64(outside, 512 + 72, 1n << 60n);
    reseal(outside, 1);
    const result = readGpt(outside);
    expect(result.warnings).toEqual(['Primary GPT is invalid, using alternate GPT.']);
    // An array that starts on the disk but runs past its end (C would CRC the missing part as zeros).
    const tail = fixtureImage('t04.img').slice();
    setU64(tail, 512 + 72, BigInt(tail.length / 512 - 2));
    reseal(tail, 1);
    expect(readGpt(tail).warnings).toEqual(['Primary GPT is invalid, using alternate GPT.']);
  });

  it('an inverted entry (last < first) is skipped with a warning, keeping the other numbers', () => {
    const b = editedT04((img, lba) => setU64(img, entryOffset(img, lba, 1) + 40, 100n));
    const { table, warnings } = readGpt(b);
    expect(table!.slots.map((s) => [s.number, s.size])).toEqual([
      [1, 4096],
      [2, 0],
      [3, 4096],
      [4, 18399],
    ]);
    expect(warnings).toEqual(['gpt: partition 2 ends (LBA 100) before it starts (LBA 6144), ignored']);
  });

  it('LBAs beyond 2^53 are skipped with a warning; partitions past the end are still reported', () => {
    const b = editedT04((img, lba) => {
      setU64(img, entryOffset(img, lba, 2) + 32, 1n << 60n);
      setU64(img, entryOffset(img, lba, 2) + 40, (1n << 60n) + 10n);
      setU64(img, entryOffset(img, lba, 3) + 40, 10_000_000n);
    });
    const { table, warnings } = readGpt(b);
    expect(table!.slots[2]!.size).toBe(0);
    expect(table!.slots[3]).toMatchObject({ start: 14336, size: 10_000_000 - 14336 + 1 });
    expect(warnings).toEqual(['gpt: partition 3 lies beyond any supported disk size, ignored']);
  });

  it('an alternate_lba past the end of the disk is not read; the last sector is tried instead', () => {
    const b = fixtureImage('t04.img').slice();
    setU64(b, 512 + 32, 1n << 62n);
    reseal(b, 1);
    const { table, warnings } = readGpt(b);
    expect(table).not.toBeNull();
    expect(warnings).toEqual([
      'GPT:Primary header alternate_lba != Alt. header my_lba',
      'GPT:Primary header thinks Alt. header is not at the end of the disk.',
      'GPT: Use GNU Parted to correct GPT errors.',
    ]);
  });

  it('tiny and empty disks are not GPT and nothing is read', () => {
    expect(readGpt(new Uint8Array(0)).table).toBeNull();
    expect(readGpt(new Uint8Array(1024))).toEqual({ table: null, warnings: [] });
  });
});

describe.skipIf(!hasCorpus)('GPT reader on the util-linux corpus (skipped: ../shared/corpus absent)', () => {
  it('gpt.img: same as kpartx -l; names, UUIDs, types and disk GUID as libblkid reports them', () => {
    const expected = readFileSync(join(corpusDir, 'expected', 'gpt.kpartx-l'), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('exit='));
    const { table, warnings } = readGpt(xzImage(join(corpusDir, 'pt', 'gpt.img.xz')));
    expect(renderList(table)).toEqual(expected);
    expect(warnings).toEqual([]);
    const lowprobe = readFileSync(join(corpusDir, 'expected', 'lowprobe-pt-gpt'), 'utf8');
    expect(lowprobe).toContain(`id=${table!.diskId}`);
    const rows = lowprobe.split('\n').filter((l) => l.startsWith('#'));
    expect(rows).toHaveLength(table!.slots.length);
    for (const slot of table!.slots) {
      const row = rows.find((r) => r.startsWith(`#${slot.number}:`))!;
      expect(row).toMatch(new RegExp(`^#${slot.number}:\\s+${slot.start}\\s+${slot.size}\\s`));
      expect(row).toContain(`name='${slot.name}'`);
      expect(row).toContain(`uuid='${slot.uuid}'`);
      expect(row).toContain(`type='${slot.type!.code}'`);
    }
    expect(table!.slots[0]!.type!.name).toBe('Microsoft basic data');
  });
});
