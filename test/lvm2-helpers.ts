/**
 * Real lvm2 for the LVM reader's tests, with no device-mapper and nothing left on the host: every
 * command runs with `--driverloaded n` (metadata only), `--devices` limited to the test's own loop
 * devices (other VGs on the machine stay unseen), and the private LVM_SYSTEM_DIR of
 * support/lvm-env.ts inside the sandbox's temp dir.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Disk } from '../src/io/disk.js';
import { openFileDisk } from '../src/io/file-disk.js';
import { canUseLoop } from './loop-helpers.js';
import { privateLvmEnv } from './support/lvm-env.js';

const haveLvm2 = spawnSync('sh', ['-c', 'command -v lvm'], { stdio: 'ignore' }).status === 0;
export const canUseLvm2 = canUseLoop && haveLvm2;
export const lvm2SkipReason = canUseLoop
  ? 'needs lvm2 (pvcreate, vgcreate, lvcreate); skipped'
  : 'needs root and /dev/loop-control (real loop devices) and lvm2; skipped';

export interface Lvm2Sandbox {
  /** Temp directory for images and lvm's configuration; removed by cleanup(). */
  dir: string;
  /** Run an lvm2 command over `devices`; returns stdout, throws with lvm's stderr on failure. */
  run(command: string, args: string[], devices: readonly string[]): string;
  /** `pvs`/`vgs`/`lvs` as JSON rows of strings (sizes in 512-byte sectors, no unit suffix). */
  report(
    command: 'pvs' | 'vgs' | 'lvs',
    fields: string,
    args: string[],
    devices: readonly string[],
  ): Record<string, string>[];
  cleanup(): void;
}

export function lvm2Sandbox(): Lvm2Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'kpt-lvm-'));
  const { env } = privateLvmEnv(dir);
  const run = (command: string, args: string[], devices: readonly string[]) => {
    const result = spawnSync(command, ['--driverloaded', 'n', '--devices', devices.join(','), ...args], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (result.status !== 0) {
      throw new Error(
        `${command} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr}`,
      );
    }
    return result.stdout;
  };
  return {
    dir,
    run,
    report(command, fields, args, devices) {
      const out = run(
        command,
        ['--reportformat', 'json', '--units', 's', '--nosuffix', '-o', fields, ...args],
        devices,
      );
      const report = JSON.parse(out).report[0] as Record<string, Record<string, string>[]>;
      return Object.values(report)[0] ?? [];
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function sparseImage(dir: string, name: string, sizeMiB: number): string {
  const path = join(dir, name);
  execFileSync('truncate', ['-s', `${sizeMiB}M`, path]);
  return path;
}

/** Attach loops over `images`, run `body`, and detach them whatever happens. */
export function withLoops<T>(
  images: readonly string[],
  body: (loops: string[]) => T,
  extra: string[] = [],
): T {
  const loops: string[] = [];
  try {
    for (const image of images) {
      const loop = execFileSync('losetup', ['-f', '--show', ...extra, image], { encoding: 'utf8' }).trim();
      loops.push(loop);
      // A free loop can carry a read-only policy (BLKROSET) an earlier user left; lvm2 must write.
      if (!extra.includes('-r')) execFileSync('blockdev', ['--setrw', loop]);
    }
    return body(loops);
  } finally {
    for (const loop of loops) execFileSync('losetup', ['-d', loop]);
  }
}

/** Read `image` as a Disk for the duration of `body`. */
export function withImageDisk<T>(image: string, body: (disk: Disk) => T): T {
  const disk = openFileDisk(image, statSync(image).size, 512);
  try {
    return body(disk);
  } finally {
    disk.close();
  }
}
