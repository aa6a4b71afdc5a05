/**
 * Helpers for the device-mapper suite, which runs inside the QEMU guest of scripts/dm-guest.js.
 * Images live in the guest's /tmp (tmpfs); loop devices are set up with losetup.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const inGuest = process.env.KPARTX_DM_GUEST === '1' && fs.existsSync('/dev/mapper/control');
export const skipReason = 'needs real device-mapper: run `npm run test:dm` (QEMU guest)';

export interface RunResult {
  stdout: string;
  stderr: string;
  status: number;
}

export function run(cmd: string, args: string[], input?: string): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 60_000 });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? -1 };
}

/** Run and require success; returns stdout. */
export function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

let counter = 0;
export const workDir = '/tmp/kpartx-dm';

/** A sparse image of `mib` MiB partitioned by sfdisk with `script`. */
export function sfdiskImage(name: string, mib: number, script: string): string {
  fs.mkdirSync(workDir, { recursive: true });
  const file = path.join(workDir, `${name}-${++counter}.img`);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, mib * 1024 * 1024);
  const r = run('sfdisk', ['-q', file], script);
  if (r.status !== 0) throw new Error(`sfdisk ${file}: ${r.stderr}`);
  return file;
}

export function attachLoop(file: string, readOnly = false): string {
  return sh('losetup', '--show', '-f', ...(readOnly ? ['-r'] : []), file).trim();
}

export function detachLoop(dev: string): void {
  run('losetup', ['-d', dev]);
}

export const devnoOf = (dev: string): string => {
  const st = fs.statSync(dev);
  return `${Math.floor(st.rdev / 256) & 0xfff}:${(st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)}`;
};

/** `dmsetup table` as name → table line, sorted by name. */
export function dmTables(): Map<string, string> {
  const out = new Map<string, string>();
  const text = run('dmsetup', ['table']).stdout;
  for (const line of text.split('\n')) {
    const m = /^(\S+): (.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** Map names with their uuids (`dmsetup info -c -o name,uuid`). */
export function dmUuids(): Map<string, string> {
  const out = new Map<string, string>();
  const text = run('dmsetup', ['info', '-c', '--noheadings', '--separator', ' ', '-o', 'name,uuid']).stdout;
  for (const line of text.split('\n')) {
    const [name, uuid] = line.trim().split(' ');
    if (name && name !== 'No') out.set(name, uuid ?? '');
  }
  return out;
}

/** Remove every dm map and detach every loop device: each test file starts from nothing. */
export function resetGuest(): void {
  run('dmsetup', ['remove_all', '--force']);
  for (const name of fs.readdirSync('/dev/mapper')) {
    if (name !== 'control') fs.rmSync(path.join('/dev/mapper', name), { force: true });
  }
  run('losetup', ['-D']);
}
