/**
 * A read that fails (EIO) is, to the C tool, the same short read as one that ends early: every
 * reader warns `read error, sector <n>` and the run goes on to exit 0. A loop device with
 * 4096-byte sectors over a 1 KiB file is such a device: its one sector is partial.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createReadContext } from '../src/engine/tables/context.js';
import type { Disk } from '../src/io/disk.js';
import { REPO } from './support/images.js';

describe('a failed read in a table reader', () => {
  it('is warned as the C tool warns a short read, and the block is absent', () => {
    const failing: Disk = {
      size: 4096,
      sectorSize: 4096,
      readAt() {
        throw Object.assign(new Error('/dev/loop9: read failed at byte 0: EIO'), { code: 'EIO' });
      },
    };
    const warnings: string[] = [];
    const context = createReadContext(failing, { warn: (line) => warnings.push(line) });
    expect(context.block(0)).toBeNull();
    expect(context.block(3)).toBeNull();
    expect(warnings).toEqual(['read error, sector 0', 'read error, sector 0']);
  });
});

const C_KPARTX = '/usr/sbin/kpartx';
const canRun =
  existsSync(C_KPARTX) &&
  existsSync('/dev/loop-control') &&
  process.getuid?.() === 0 &&
  existsSync(join(REPO, 'dist', 'cli', 'kpartx.js'));
const DM_NOISE = /device-mapper|libdevmapper|\/dev\/mapper\/control/;

describe.skipIf(!canRun)('kpartx -l on a device whose only sector is partial (root, loop devices)', () => {
  const work = canRun ? mkdtempSync(join(tmpdir(), 'kpartx-eio-')) : '';
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('prints what the C tool prints and exits 0', () => {
    const file = join(work, 'tiny.img');
    writeFileSync(file, Buffer.alloc(1024));
    const attach = spawnSync('losetup', ['-f', '--show', '-b', '4096', file], { encoding: 'utf8' });
    expect(attach.status, attach.stderr).toBe(0);
    const loop = attach.stdout.trim();
    try {
      const c = spawnSync(C_KPARTX, ['-l', loop], { encoding: 'utf8', argv0: 'kpartx' });
      const ours = spawnSync(process.execPath, [join(REPO, 'bin', 'kpartx.js'), '-l', loop], {
        encoding: 'utf8',
      });
      const cErr = c.stderr.split('\n').filter((line) => line && !DM_NOISE.test(line));
      expect(cErr).toContain('read error, sector 0');
      expect({
        status: ours.status,
        stdout: ours.stdout,
        stderr: ours.stderr.split('\n').filter(Boolean),
      }).toEqual({ status: c.status, stdout: c.stdout, stderr: cErr });
    } finally {
      spawnSync('losetup', ['-d', loop]);
    }
  });
});
