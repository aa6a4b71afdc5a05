/**
 * The source list says what an image holds with the same readers as its layout (issue 15: a GPT
 * whose primary header is broken was listed as `dos`, and an MBR with a 0xEE entry as `dos` while
 * its layout said it has no partition table). Images are real files in a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTuiEngine } from '../../src/tui/engine.js';
import { DEFAULT_OPTIONS } from '../../src/tui/model.js';
import { listSources } from '../../src/tui/sources.js';
import { dosImage, sampleImage, stampExt4 } from './images.js';

const hasSgdisk = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v sgdisk'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('what the source list says an image holds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kpartx-tui-summary-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, bytes: Uint8Array): string => {
    writeFileSync(join(dir, name), bytes);
    return name;
  };
  const listed = (name: string) => {
    const entry = listSources([name], dir, { list: () => [], read: () => undefined }).find(
      (e) => e.name === name,
    );
    return { what: entry?.what, partitioned: entry?.partitioned };
  };
  /** What the app's layout of the same image says its table (its first look needs no kernel call). */
  const layoutTable = async (name: string) => {
    const engine = createTuiEngine({ cwd: dir, isRoot: false });
    const look = await engine.inspect(join(dir, name), DEFAULT_OPTIONS);
    return { type: look.layout.tableType, partitions: look.layout.partitions.length };
  };

  it.skipIf(!hasSgdisk)(
    'a GPT whose primary header is broken: gpt from its backup, as the layout reads it',
    async () => {
      const name = 'broken-primary.img';
      const path = join(dir, name);
      writeFileSync(path, '');
      truncateSync(path, 16 * 1024 * 1024);
      execFileSync('sgdisk', ['-n', '1:2048:+2M', '-n', '2:0:+2M', '-n', '3:0:+2M', path], {
        stdio: 'ignore',
      });
      const bytes = readFileSync(path);
      bytes.fill(0, 512, 1024); // the primary header
      write(name, bytes);
      expect(listed(name)).toEqual({ what: 'gpt, 3 partitions', partitioned: true });
      expect(await layoutTable(name)).toEqual({ type: 'gpt', partitions: 3 });
    },
  );

  it('an MBR with a 0xEE entry and no GPT: no table, as the layout says', async () => {
    const name = 'protective-only.img';
    write(name, dosImage(8192, [{ type: 0xee, start: 1, size: 8191 }]));
    expect(listed(name)).toEqual({ what: 'no table found', partitioned: false });
    expect(await layoutTable(name)).toEqual({ type: null, partitions: 0 });
  });

  it('a DOS table with its logicals, a bare filesystem, containers, and nothing', () => {
    expect(listed(write('sample.img', sampleImage()))).toEqual({
      what: 'dos, 4 partitions',
      partitioned: true,
    });
    const bare = new Uint8Array(4 * 1024 * 1024);
    stampExt4(bare, 0, 'data');
    expect(listed(write('bare.img', bare))).toEqual({ what: 'ext4, no table', partitioned: false });
    const qcow2 = new Uint8Array(4096);
    qcow2.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
    expect(listed(write('vm.qcow2', qcow2))).toMatchObject({ what: 'qcow2 image', partitioned: false });
    const xz = new Uint8Array(4096);
    xz.set([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
    expect(listed(write('disk.img.xz', xz))).toEqual({ what: 'xz-compressed', partitioned: false });
    expect(listed(write('zeros.img', new Uint8Array(1024 * 1024)))).toEqual({
      what: 'empty',
      partitioned: false,
    });
  });
});
