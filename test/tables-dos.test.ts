import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  corpusDir,
  fixtureImage,
  hasCorpus,
  readLikeKpartx,
  recording,
  recordings,
  renderList,
  xzImage,
} from '../fixtures/dos-gpt.js';
import type { PartitionTable } from '../src/engine/partition.js';
import { createReadContext } from '../src/engine/tables/context.js';
import { dosReader, isPlausibleMbr } from '../src/engine/tables/dos.js';
import { readPartitionTable } from '../src/engine/tables/index.js';
import { memoryDisk } from './support/memory-disk.js';

/** Fixtures where the C tool's DOS reading is reproduced exactly (stdout and stderr). */
const SAME_AS_C = [
  't01',
  't02',
  't03',
  'dos-types',
  't16',
  't16-512',
  't18b',
  't25b',
  't25c',
  't25d-ok',
  't25e',
  'ebr-past-end',
  'mbr-fatcode',
];

function readDos(bytes: Uint8Array, sectorSize = 512) {
  const warnings: string[] = [];
  const context = createReadContext(memoryDisk(bytes, sectorSize), { warn: (l) => warnings.push(l) });
  return { table: dosReader.read(context), warnings };
}

describe('DOS reader against the C kpartx recordings', () => {
  for (const label of SAME_AS_C) {
    it(`${label}: same slots and messages as kpartx -l`, () => {
      const rec = recording(label);
      const { table, warnings } = readLikeKpartx(fixtureImage(rec.image), rec.sectorSize, rec.options);
      expect(rec.exit).toBe(0);
      expect(table?.type).toBe('dos');
      expect(renderList(table)).toEqual(rec.stdout);
      expect(warnings).toEqual(rec.stderr);
    });
  }

  it('t02: extended slot is 2 sectors, logicals 5-7 belong to it, numbering and kinds as C', () => {
    const { table } = readDos(fixtureImage('t02.img'));
    const summary = table!.slots.map((s) => [s.number, s.kind, s.container, s.size]);
    expect(summary.slice(0, 2)).toEqual([
      [1, 'primary', 0, 4096],
      [2, 'extended', 0, 2],
    ]);
    expect(summary.slice(4, 7)).toEqual([
      [5, 'logical', 2, 4096],
      [6, 'logical', 2, 4096],
      [7, 'logical', 2, 12288],
    ]);
    // The last EBR's empty second entry takes slot 8 (invisible, size 0), as in C.
    expect(table!.slots.map((s) => s.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(table!.slots[7]!.size).toBe(0);
  });

  it('t25b/t25c: empty EBR entries consume numbers (kept: map names depend on it)', () => {
    const b = readDos(fixtureImage('t25b.img')).table!;
    expect(b.slots.filter((s) => s.size > 0 && s.kind === 'logical').map((s) => s.number)).toEqual([5, 7]);
    const c = readDos(fixtureImage('t25c.img')).table!;
    expect(c.slots.filter((s) => s.size > 0 && s.kind === 'logical').map((s) => s.number)).toEqual([6]);
  });

  it('t16: 4096-byte sectors multiply by 8 and map 8 sectors of the extended partition', () => {
    const { table } = readDos(fixtureImage('t16.img'), 4096);
    expect(table!.sectorSize).toBe(4096);
    expect(table!.slots[1]).toMatchObject({ number: 2, kind: 'extended', start: 6144, size: 8 });
  });

  it('dos-types: type codes, names, boot flag and disk signature', () => {
    const { table } = readDos(fixtureImage('dos-types.img'));
    expect(table!.diskId).toBe('0x1234abcd');
    expect(table!.slots.map((s) => s.type)).toEqual([
      { code: '0x82', name: 'Linux swap / Solaris' },
      { code: '0x8e', name: 'Linux LVM' },
      { code: '0xfd', name: 'Linux raid autodetect' },
      { code: '0x0c', name: 'W95 FAT32 (LBA)' },
    ]);
    expect(table!.slots.map((s) => s.bootable)).toEqual([false, true, false, false]);
    const t02 = readDos(fixtureImage('t02.img')).table!;
    expect(t02.slots[1]!.type).toEqual({ code: '0x05', name: 'Extended' });
  });

  it('t07: a hybrid MBR (0xEE entry) is not a DOS table, even with -t dos', () => {
    const rec = recording('t07-tdos');
    expect(rec.stdout).toEqual([]);
    expect(readLikeKpartx(fixtureImage('t07.img'), 512, ['-t', 'dos']).table).toBeNull();
  });

  it('an empty DOS table is still a table (it stops the other readers, as in C)', () => {
    const { table } = readDos(fixtureImage('t18b.img'));
    expect(table!.slots).toHaveLength(4);
    expect(table!.slots.every((s) => s.size === 0)).toBe(true);
  });
});

describe('every DOS/GPT recording through the full reader registry', () => {
  /** Where a deliberate fix makes the listing differ from the C tool's (asserted in detail below). */
  const FIXED = new Set(['t25a', 't25d']);
  for (const rec of recordings().filter((r) => !FIXED.has(r.label))) {
    it(`${rec.label} (${[...rec.options, rec.image, rec.sectorSize].join(' ')}): same as kpartx -l`, () => {
      const warnings: string[] = [];
      const typeAt = rec.options.indexOf('-t');
      const table = readPartitionTable(memoryDisk(fixtureImage(rec.image), rec.sectorSize), {
        forceGpt: rec.options.includes('-g'),
        only: typeAt >= 0 ? rec.options[typeAt + 1] : undefined,
        warn: (line) => warnings.push(line),
      });
      expect(renderList(table)).toEqual(rec.stdout);
      expect(warnings).toEqual(rec.stderr);
    });
  }
});

describe('DOS reader: deliberate fixes', () => {
  it('B5: an EBR cycle stops at the first repeated EBR instead of filling all 256 numbers', () => {
    const rec = recording('t25a');
    // The C tool lists p6 252 times (p6..p256) and runs out of slots.
    expect(rec.stdout).toHaveLength(254);
    expect(rec.stderr).toEqual(['dos_extd_partition: too many slices']);
    const { table, warnings } = readLikeKpartx(fixtureImage('t25a.img'), 512);
    expect(renderList(table)).toEqual(rec.stdout.slice(0, 4));
    expect(table!.slots).toHaveLength(6);
    expect(warnings).toEqual([
      'dos_extd_partition: extended boot record at sector 10240 is linked twice, chain stopped',
    ]);
  });

  it('B12: a boot indicator other than 0x00/0x80 means sector 0 is not a partition table', () => {
    const rec = recording('t25d');
    expect(rec.stdout).toHaveLength(2); // C lists it
    expect(readDos(fixtureImage('t25d.img')).table).toBeNull();
  });

  for (const fs of ['fat16', 'fat32', 'exfat', 'ntfs']) {
    it(`B12: an unpartitioned ${fs} volume is not read as an (empty) DOS table`, () => {
      const rec = recording(fs);
      expect(rec.stdout).toEqual([]); // C: a DOS "table" with nothing in it, which also hides other formats
      const bytes = fixtureImage(`${fs}.img`);
      expect(bytes[510]).toBe(0x55);
      expect(bytes[511]).toBe(0xaa);
      expect(readDos(bytes).table).toBeNull();
    });
  }

  it('B12: a real table keeps working when the boot code area looks like a FAT boot sector', () => {
    const bytes = fixtureImage('mbr-fatcode.img');
    expect(bytes[0]).toBe(0xeb);
    const { table } = readDos(bytes);
    expect(table!.diskId).toBe('0x0badcafe');
    expect(table!.slots.filter((s) => s.size > 0).map((s) => s.number)).toEqual([1, 2]);
  });

  it('B12: a FAT-like boot sector whose entries fit nothing on the disk is refused', () => {
    const bytes = fixtureImage('mbr-fatcode.img').slice(0, 1024 * 1024);
    // The 1 MiB prefix is too small for either partition: nothing plausible is left.
    expect(isPlausibleMbr(bytes.subarray(0, 512), 2048)).toBe(false);
    expect(isPlausibleMbr(bytes.subarray(0, 512), 131072)).toBe(true);
  });
});

/** A blank disk with hand-written MBR/EBR entries: [sector, index, boot, type, start, count]. */
function handMade(sizeSectors: number, entries: [number, number, number, number, number, number][]) {
  const bytes = new Uint8Array(sizeSectors * 512);
  const view = new DataView(bytes.buffer);
  for (const [sector, index, boot, type, start, count] of entries) {
    const off = sector * 512 + 446 + index * 16;
    bytes[off] = boot;
    bytes[off + 4] = type;
    view.setUint32(off + 8, start, true);
    view.setUint32(off + 12, count, true);
    bytes[sector * 512 + 510] = 0x55;
    bytes[sector * 512 + 511] = 0xaa;
  }
  return bytes;
}

describe('DOS reader on hand-made tables', () => {
  it('returns null without 55 AA, or for an image shorter than a sector (with the getblock message)', () => {
    expect(readDos(new Uint8Array(4096)).table).toBeNull();
    const short = readDos(new Uint8Array(100));
    expect(short.table).toBeNull();
    expect(short.warnings).toEqual(['read error, sector 0']);
  });

  it('a 0xEE entry after an extended one still drops the table (C reads the chain first)', () => {
    const bytes = handMade(4096, [
      [0, 0, 0, 0x05, 2048, 1000],
      [2048, 0, 0, 0x83, 1, 10],
      [0, 1, 0, 0xee, 1, 4000],
    ]);
    expect(readDos(bytes).table).toBeNull();
  });

  it('a chain of 300 logicals stops at partition 256 with the C message', () => {
    const entries: [number, number, number, number, number, number][] = [[0, 0, 0, 0x05, 1000, 100000]];
    for (let i = 0; i < 300; i++) {
      entries.push([1000 + i * 10, 0, 0, 0x83, 1, 5], [1000 + i * 10, 1, 0, 0x05, (i + 1) * 10, 10]);
    }
    const { table, warnings } = readDos(handMade(8000, entries));
    expect(table!.slots).toHaveLength(256);
    expect(table!.slots.at(-1)!.number).toBe(256);
    expect(warnings).toEqual(['dos_extd_partition: too many slices']);
  });

  it('a link whose start is 0 is not followed; partitions past the end are still reported', () => {
    const bytes = handMade(4096, [
      [0, 0, 0, 0x0f, 2048, 1000],
      [2048, 0, 0, 0x83, 1, 10],
      [2048, 1, 0, 0x05, 0, 10],
      [0, 1, 0x80, 0x83, 3000, 999999],
    ]);
    const table = readDos(bytes).table as PartitionTable;
    expect(table.slots.map((s) => [s.number, s.start, s.size])).toEqual([
      [1, 2048, 2],
      [2, 3000, 999999],
      [3, 0, 0],
      [4, 0, 0],
      [5, 2049, 10],
    ]);
  });
});

describe.skipIf(!hasCorpus)('DOS reader on the util-linux corpus (skipped: ../shared/corpus absent)', () => {
  it('dos+bsd.img: same as kpartx -l, types and disk id as libblkid reports them', async () => {
    const { readFileSync } = await import('node:fs');
    const expected = readFileSync(join(corpusDir, 'expected', 'dos+bsd.kpartx-l'), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('exit='));
    const { table } = readDos(xzImage(join(corpusDir, 'pt', 'dos+bsd.img.xz')));
    expect(renderList(table)).toEqual(expected);
    const lowprobe = readFileSync(join(corpusDir, 'expected', 'lowprobe-pt-dos+bsd'), 'utf8');
    expect(lowprobe).toContain(`id=${table!.diskId!.slice(2)}`);
    for (const slot of table!.slots.filter((s) => s.size > 0)) {
      const line = new RegExp(
        `#${slot.number}:\\s+${slot.start}\\s+${slot.size}\\s+${Number(slot.type!.code)
          .toString(16)
          .replace(/^/, '0x')}\\b`,
      );
      expect(lowprobe).toMatch(line);
    }
  });

  const fsDir = join(corpusDir, 'fs');
  const filesystems = hasCorpus
    ? readdirSync(fsDir).filter((f) => /^(fat|exfat|ntfs|small-fat|vfat)/.test(f) && f.endsWith('.img.xz'))
    : [];
  it.each(filesystems)('%s: an unpartitioned filesystem is not a DOS table', (file) => {
    expect(readDos(xzImage(join(fsDir, file))).table).toBeNull();
  });
});
