/**
 * Conformance with the C kpartx on util-linux's partition-table test images
 * (../shared/corpus/blkid/pt, present in CI): `-l` must list the same partitions. Skipped when the
 * corpus is not there.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listingLines } from '../src/engine/listing.js';
import { readPartitionTable } from '../src/engine/tables/index.js';
import {
  CORPUS_EXPECTED_DIR,
  CORPUS_PT_DIR,
  imageNames,
  loadXzImage,
  readRecordedListing,
} from './support/images.js';
import { memoryDisk } from './support/memory-disk.js';

const LISTING = { mapName: 'LOOP', delimiter: 'p', devicePath: '/dev/LOOP' };
const names = imageNames(CORPUS_PT_DIR);

describe.skipIf(names.length === 0)(
  'util-linux partition-table corpus (skipped: ../shared/corpus absent)',
  () => {
    for (const name of names) {
      const expectedPath = join(CORPUS_EXPECTED_DIR, `${name}.kpartx-l`);
      it.skipIf(!existsSync(expectedPath))(`${name} lists what the C kpartx listed`, () => {
        const expected = readRecordedListing(expectedPath);
        expect(expected.exit).toBe(0);
        const table = readPartitionTable(memoryDisk(loadXzImage(join(CORPUS_PT_DIR, `${name}.img.xz`))));
        const lines = table ? listingLines(table, LISTING) : [];
        expect(lines).toEqual(expected.stdout);
        // An empty listing means no table or a table of empty slots only.
        if (expected.stdout.length === 0)
          expect(table?.slots.every((slot) => slot.size === 0) ?? true).toBe(true);
      });
    }

    it('covers the formats this module reads', () => {
      expect(names).toEqual(expect.arrayContaining(['bsd', 'sun', 'dasd-cdl', 'dasd-ldl']));
    });

    it('reads the corpus BSD label with the C overlap rule (slice 0 ends inside slice 1)', () => {
      const warnings: string[] = [];
      const table = readPartitionTable(memoryDisk(loadXzImage(join(CORPUS_PT_DIR, 'bsd.img.xz'))), {
        warn: (line) => warnings.push(line),
      });
      expect(table?.type).toBe('bsd');
      expect(warnings).toEqual(['bsd_disklabel: slice 0 overlaps with 1']);
    });

    it('finds no DASD label on the 4096-byte-block DASD images, at either sector size', () => {
      // The C tool, on a plain loop and on `losetup -b 4096`, lists nothing for both: its image
      // fallback reads the label type from the second field (an LDL label has it in the first) and
      // reads VTOC addresses little-endian on x86_64 (a CDL label's then point past the end).
      for (const name of ['dasd-cdl', 'dasd-ldl']) {
        const bytes = loadXzImage(join(CORPUS_PT_DIR, `${name}.img.xz`));
        expect(readPartitionTable(memoryDisk(bytes))).toBeNull();
        expect(readPartitionTable(memoryDisk(bytes, 4096))).toBeNull();
      }
    });
  },
);
