/**
 * Conformance with libblkid on util-linux's own test images (../shared/corpus/blkid): for every
 * format we claim, type, label and UUID equal blkid's recorded ID_FS_* values; for the rest,
 * probing must simply not throw.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeContent } from '../src/probe/index.js';
import { oemLabel } from '../src/probe/text.js';
import { blkidView, fileDisk, parseUdev } from './probe-helpers.js';

const corpus = resolve(import.meta.dirname, '../../shared/corpus/blkid');
const haveCorpus = existsSync(join(corpus, 'fs')) && existsSync(join(corpus, 'expected'));

const CLAIMED = new Set([
  'ext2',
  'ext3',
  'ext4',
  'jbd',
  'xfs',
  'btrfs',
  'vfat',
  'exfat',
  'ntfs',
  'swap',
  'iso9660',
  'squashfs',
  'squashfs3',
  'LVM2_member',
  'crypto_LUKS',
  'linux_raid_member',
  'zfs_member',
]);

/** Expected files per image: `iso-multi-0-174-348-genisoimage` has one per session (2 KiB blocks). */
function expectations(image: string): Array<{ file: string; offset: number }> {
  const multi = /^(iso|udf)-multi-([\d-]+)-(\w+)$/.exec(image);
  if (multi) {
    return multi[2]!.split('-').map((block) => ({
      file: `low-probe-${multi[1]}-multi-${multi[3]}-${block}`,
      offset: Number(block) * 2048,
    }));
  }
  return [{ file: `low-probe-${image}`, offset: 0 }];
}

const work = haveCorpus ? mkdtempSync(join(tmpdir(), 'probe-corpus-')) : '';
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function decompress(name: string): string {
  const out = join(work, `${name}.img`);
  if (!existsSync(out)) {
    // Straight to a file: some images decompress to hundreds of MiB.
    const fd = openSync(`${out}.part`, 'w');
    try {
      execFileSync('xz', ['-dc', join(corpus, 'fs', `${name}.img.xz`)], { stdio: ['ignore', fd, 'pipe'] });
    } finally {
      closeSync(fd);
    }
    renameSync(`${out}.part`, out);
  }
  return out;
}

const images = haveCorpus
  ? readdirSync(join(corpus, 'fs'))
      .filter((f) => f.endsWith('.img.xz'))
      .map((f) => f.slice(0, -'.img.xz'.length))
      .sort()
  : [];

describe.skipIf(!haveCorpus)('libblkid corpus conformance (skipped when ../shared/corpus is absent)', () => {
  for (const image of images) {
    for (const { file, offset } of expectations(image)) {
      const expectedPath = join(corpus, 'expected', file);
      if (!existsSync(expectedPath)) continue;
      const ref = blkidView(parseUdev(readFileSync(expectedPath, 'utf8')));
      const claimed = ref.type !== undefined && CLAIMED.has(ref.type);
      it(`${file}: ${claimed ? `matches blkid (${ref.type})` : `does not throw (${ref.type ?? 'nothing'})`}`, () => {
        const disk = fileDisk(decompress(image));
        try {
          const info = probeContent(disk, offset, disk.size - offset);
          if (!claimed) return;
          expect(info?.type).toBe(ref.type);
          const theirs = ref.label;
          if (theirs === undefined) expect(info?.label).toBeUndefined();
          else {
            const asText = new TextDecoder().decode(theirs);
            const matches =
              info?.label === asText ||
              (ref.type === 'vfat' && info?.label === oemLabel(theirs, 0, theirs.length));
            expect(matches, `label ${JSON.stringify(info?.label)} vs ${JSON.stringify(asText)}`).toBe(true);
          }
          expect(info?.uuid).toBe(ref.uuid);
          if (ref.uuidSub !== undefined) expect(info?.uuidSub).toBe(ref.uuidSub);
          if (ref.version !== undefined) expect(info?.version).toBe(ref.version);
        } finally {
          disk.close();
        }
      });
    }
  }
});
