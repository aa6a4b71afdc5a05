/**
 * Helpers for the device-mapper suite, which runs inside the QEMU guest of scripts/dm-guest.js.
 * Images live in the guest's /tmp (tmpfs); loop devices are set up with losetup.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openDeviceMapper } from '../../src/kernel/dm.js';

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

/** Every map's table as `dmsetup table` prints it, name → line, sorted by name. */
export function dmTables(): Map<string, string> {
  const dm = openDeviceMapper()!;
  const out = new Map<string, string>();
  for (const { name } of dm.list()) {
    out.set(
      name,
      dm
        .table(name)
        .map((t) => `${t.start} ${t.length} ${t.type}${t.params ? ` ${t.params}` : ''}`)
        .join('; '),
    );
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** Map names with their uuids (`dmsetup info -c -o name,uuid`). */
export function dmUuids(): Map<string, string> {
  return new Map(
    openDeviceMapper()!
      .list()
      .map((e) => [e.name, e.uuid]),
  );
}

/** Map names with their state, `dmsetup info -c -o name,attr` style (r = read-only, w = writable). */
export function dmAttrs(): string[] {
  const dm = openDeviceMapper()!;
  return dm
    .list()
    .map(({ name }) => {
      const info = dm.info(name);
      return `${name} ${info?.suspended ? 's' : '-'}${info?.readOnly ? 'r' : 'w'}`;
    })
    .sort();
}

/** Remove every dm map and detach every loop device: each scenario starts from nothing. */
export function resetGuest(): void {
  // dmsetup, not our own code: a reset must not depend on what is under test. One process for
  // all maps (a start-up per map is slow under emulation).
  if (openDeviceMapper()!.list().length > 0) run('dmsetup', ['remove_all', '--force']);
  for (const name of fs.readdirSync('/dev/mapper')) {
    if (name !== 'control') fs.rmSync(path.join('/dev/mapper', name), { force: true });
  }
  run('losetup', ['-D']);
  for (let i = 0; i < 100 && boundLoops().length > 0; i++) run('sleep', ['0.05']);
}

export const KPARTX_C = '/usr/sbin/kpartx';
export const KPARTX_OURS = path.resolve(import.meta.dirname, '../../bin/kpartx.js');

export const ours = (...args: string[]): RunResult => run(process.execPath, [KPARTX_OURS, ...args]);
export const theirs = (...args: string[]): RunResult => run(KPARTX_C, args);

/** Bound loop devices with their backing files (`/dev/loop0 /tmp/x.img`), from sysfs. */
export function boundLoops(): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
    try {
      const backing = fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
      out.push(`/dev/${name} ${backing}`);
    } catch {
      // unbound
    }
  }
  return out.sort();
}

/** Names in /dev/mapper that are block nodes, with their device numbers. */
export function mapperNodes(): string[] {
  return fs
    .readdirSync('/dev/mapper')
    .filter((name) => name !== 'control')
    .map((name) => {
      const st = fs.statSync(path.join('/dev/mapper', name), { throwIfNoEntry: false });
      if (!st?.isBlockDevice()) return `${name} (not a block node)`;
      return `${name} ${Math.floor(st.rdev / 256) & 0xfff}:${(st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)}`;
    })
    .sort();
}

/** Everything a kpartx run can leave behind. */
export interface GuestState {
  tables: string[];
  attrs: string[];
  uuids: string[];
  nodes: string[];
  loops: string[];
}

export function guestState(): GuestState {
  return {
    tables: [...dmTables()].map(([name, table]) => `${name}: ${table}`),
    attrs: dmAttrs(),
    uuids: [...dmUuids()].map(([name, uuid]) => `${name} ${uuid}`).sort(),
    nodes: mapperNodes(),
    loops: boundLoops(),
  };
}

/** Decompress a fixture image (`fixtures/<dir>/<name>.img.xz`) into the guest's /tmp. */
export function fixtureImage(relative: string): string {
  const cache = path.join(workDir, 'cache');
  fs.mkdirSync(cache, { recursive: true });
  const source = path.resolve(import.meta.dirname, '../../fixtures', relative);
  const base = path.basename(relative).replace(/\.xz$/, '');
  const cached = path.join(cache, base);
  if (!fs.existsSync(cached)) {
    const r = spawnSync('sh', ['-c', `xz -dc '${source}' > '${cached}'`]);
    if (r.status !== 0) throw new Error(`xz ${source}: ${r.stderr}`);
  }
  // A fresh copy each time (sparse, like the original): scenarios write to their images.
  const file = path.join(workDir, base);
  fs.rmSync(file, { force: true });
  const r = spawnSync('cp', ['--sparse=always', cached, file]);
  if (r.status !== 0) throw new Error(`cp ${cached}: ${r.stderr}`);
  return file;
}

/** /dev/block/MAJ:MIN links as udev makes them: the C kpartx finds an image's loop only through these. */
export function makeBlockLinks(): void {
  fs.mkdirSync('/dev/block', { recursive: true });
  for (const name of fs.readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
    const devno = fs.readFileSync(`/sys/block/${name}/dev`, 'utf8').trim();
    const link = `/dev/block/${devno}`;
    if (!fs.existsSync(link)) fs.symlinkSync(`../${name}`, link);
  }
}

export function removeBlockLinks(): void {
  fs.rmSync('/dev/block', { recursive: true, force: true });
}
