/**
 * The reader registry: the C tool's probing order, `-t NAME` (only that reader; an unknown name
 * runs none) and `-g`, checked against C kpartx runs recorded with those options
 * (fixtures/labels/NAME+OPTION.kpartx-l).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listingLines } from '../src/engine/listing.js';
import { TABLE_TYPES } from '../src/engine/partition.js';
import { READERS, type ReadTableOptions, readPartitionTable } from '../src/engine/tables/index.js';
import { LABELS_DIR, loadXzImage, readRecordedListing } from './support/images.js';
import { memoryDisk } from './support/memory-disk.js';

const LISTING = { mapName: 'LOOP', delimiter: 'p', devicePath: '/dev/LOOP' };

/** `t-bsd` → `-t bsd`, `g` → `-g`. */
function optionsFor(suffix: string): ReadTableOptions {
  if (suffix === 'g') return { forceGpt: true };
  if (suffix.startsWith('t-')) return { only: suffix.slice(2) };
  throw new Error(`unknown recorded option ${suffix}`);
}

function list(name: string, options: ReadTableOptions) {
  const disk = memoryDisk(loadXzImage(join(LABELS_DIR, `${name}.img.xz`)));
  const warnings: string[] = [];
  const table = readPartitionTable(disk, { ...options, warn: (line) => warnings.push(line) });
  return { table, lines: table ? listingLines(table, LISTING) : [], warnings };
}

describe('reader registry', () => {
  it('tries the readers in the C order', () => {
    expect(READERS.map((reader) => reader.type)).toEqual([...TABLE_TYPES]);
    expect(TABLE_TYPES).toEqual(['gpt', 'dos', 'bsd', 'solaris', 'unixware', 'dasd', 'mac', 'sun', 'ps3']);
  });

  const recorded = readdirSync(LABELS_DIR)
    .filter((f) => f.includes('+') && f.endsWith('.kpartx-l'))
    .map((f) => f.slice(0, -'.kpartx-l'.length));

  it('has option runs to compare with', () => {
    expect(recorded.length).toBeGreaterThanOrEqual(5);
  });

  for (const run of recorded) {
    const [name = '', suffix = ''] = run.split('+');
    it(`${name} with ${suffix} lists what the C tool listed`, () => {
      const expected = readRecordedListing(join(LABELS_DIR, `${run}.kpartx-l`));
      const { lines, warnings } = list(name, optionsFor(suffix));
      expect(lines).toEqual(expected.stdout);
      expect(warnings).toEqual(expected.stderr);
    });
  }

  it('-t picks the named reader even when an earlier one would win', () => {
    expect(list('dos-and-bsd', {}).table?.type).toBe('dos');
    expect(list('dos-and-bsd', { only: 'bsd' }).table?.type).toBe('bsd');
    expect(list('bsd-c', { only: 'dos' }).table).toBeNull();
  });

  it('an unknown -t name runs no reader at all (no reads, no diagnostics)', () => {
    const reads: number[] = [];
    const disk = memoryDisk(new Uint8Array(0));
    const spy = {
      ...disk,
      readAt(offset: number, length: number) {
        reads.push(offset);
        return disk.readAt(offset, length);
      },
    };
    const warnings: string[] = [];
    expect(readPartitionTable(spy, { only: 'atari', warn: (l) => warnings.push(l) })).toBeNull();
    expect(reads).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('a reader returning a table without slots does not stop the search', () => {
    // An entry-less GPT (the C tool's "0 slices") falls through to the BSD label behind it.
    expect(list('gpt-empty-and-bsd64', {}).table?.type).toBe('bsd');
  });
});
