/**
 * `kpartx -l` on VM disk containers: stdout stays what the C kpartx prints (the listing of the
 * file's own bytes: nothing for a qcow2), and one stderr line names the container and the next
 * step. Images made by sgdisk, mkfs and qemu-img.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { canMakeDisks, disksSkipReason, makeStackDisks, type StackDisks } from './support/stack-images.js';

const C_KPARTX = '/usr/sbin/kpartx';
const canRunC = existsSync(C_KPARTX) && existsSync('/dev/loop-control') && process.getuid?.() === 0;

/** The C tool's stdout for `-l` (it attaches a loop for the listing and lets it go). */
const cStdout = (file: string) =>
  spawnSync(C_KPARTX, ['-l', file], { encoding: 'utf8', argv0: 'kpartx' }).stdout;

describe.skipIf(!canMakeDisks)(`kpartx -l on containers (${disksSkipReason})`, () => {
  let disks: StackDisks;
  beforeAll(() => {
    disks = makeStackDisks(false);
  }, 60_000);
  afterAll(() => disks?.cleanup());

  it.each([
    ['qcow2', undefined, 'qcow2'],
    ['vmdk', undefined, 'vmdk'],
    ['vhdx', undefined, 'vhdx'],
    ['vdi', undefined, 'vdi'],
  ] as const)(
    '%s: stdout as the C tool, one stderr note naming the container and the next step',
    async (format, options, family) => {
      const file = disks.convert(format, options);
      const run = await runCli(['-l', file]);
      expect(run.status).toBe(0);
      expect(run.stdout).toBe(canRunC ? cStdout(file) : '');
      expect(run.stderr).toBe(
        `${file}: ${family} image (virtual size 64 MiB): the partitions inside are listed by kpartx-tui --json ${file}; attach it with qemu-nbd to map them\n`,
      );
    },
  );

  it('a raw disk and a fixed VHD (its bytes are the disk) get no note', async () => {
    for (const file of [disks.raw, disks.convert('vpc', 'subformat=fixed,force_size=on', 'fixed.vhd')]) {
      const run = await runCli(['-l', file]);
      // (The fixed VHD's footer follows the disk, so its backup GPT is not at the file's end: the
      // GPT lines are the C tool's, as for any such disk.)
      expect(run.stderr, basename(file)).not.toMatch(/image|qemu-nbd/);
      expect(run.stdout.split('\n').filter(Boolean)).toHaveLength(3);
      if (canRunC) expect(run.stdout).toBe(cStdout(file));
    }
  });

  it('a compressed image is named with what to do first, not sent to qemu-nbd', async () => {
    const file = `${disks.raw}.xz`;
    execFileSync('xz', ['-k', '-0', '-T1', disks.raw]);
    const run = await runCli(['-l', file]);
    const notes = run.stderr.split('\n').filter((line) => line.startsWith(`${file}: `));
    expect(notes).toEqual([
      `${file}: xz-compressed file: decompress it first (xz -dk ${file}), then run kpartx on the result`,
    ]);
    if (canRunC) expect(run.stdout).toBe(cStdout(file));
  });
});
