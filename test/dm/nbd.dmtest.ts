/**
 * VM disk containers through qemu-nbd on real nbd and device-mapper (the QEMU guest): a qcow2
 * made by qemu-img from a GPT disk whose ext4 holds a file is mapped by `kpartx -a`, removed by
 * `kpartx -d` with its nbd connection, mounted and unmounted by `kpartx-tui mount/umount` (the
 * file written before conversion read back), and a SIGTERM mid-add leaves nothing attached. The
 * qcow2 is never written (read-only connection, checksum).
 */

import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  boundLoops,
  dmTables,
  inGuest,
  ours,
  resetGuest,
  run,
  sfdiskImage,
  skipReason,
  workDir,
} from './guest.js';

const KPARTX_TUI = path.resolve(import.meta.dirname, '../../bin/kpartx-tui.js');
const KPARTX = path.resolve(import.meta.dirname, '../../bin/kpartx.js');
const tui = (...args: string[]) => run(process.execPath, [KPARTX_TUI, ...args]);
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** nbd devices that are connected now (the kernel shows a pid while they are). */
const connectedNbds = (): string[] =>
  fs
    .readdirSync('/sys/block')
    .filter((name) => /^nbd\d+$/.test(name) && fs.existsSync(`/sys/block/${name}/pid`))
    .sort();

/** A GPT disk with `parts` partitions, the first an ext4 holding hello.txt, converted to qcow2. */
function qcow2Image(parts = 2): string {
  const lines = ['label: gpt', 'start=2048, size=16384, type=L'];
  // sfdisk aligns each start to 1 MiB: 60 partitions need some 70 MiB.
  for (let i = 1; i < parts; i++) lines.push('size=1024, type=L');
  const raw = sfdiskImage('nbd', 160, `${lines.join('\n')}\n`);
  const content = `${raw}.p1`;
  fs.mkdirSync(content, { recursive: true });
  fs.writeFileSync(path.join(content, 'hello.txt'), 'written before conversion\n');
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, '-E', `offset=${2048 * 512}`, raw, '8192k']);
  const qcow2 = raw.replace(/\.img$/, '.qcow2');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  fs.rmSync(raw);
  return qcow2;
}

function expectNothingAttached(): void {
  expect({ nbd: connectedNbds(), maps: [...dmTables().keys()], loops: boundLoops() }).toEqual({
    nbd: [],
    maps: [],
    loops: [],
  });
}

describe.skipIf(!inGuest)(`containers through qemu-nbd (${skipReason})`, () => {
  const runDir = path.join(workDir, 'nbd-run');
  beforeAll(() => {
    process.env.KPARTX_TUI_RUN_DIR = runDir;
    resetGuest();
  });
  afterEach(() => {
    for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const target = line.split(' ')[1];
      if (target?.startsWith(`${workDir}/`)) run('umount', [target]);
    }
    resetGuest();
    for (const name of connectedNbds()) run('qemu-nbd', ['--disconnect', `/dev/${name}`]);
  });
  afterAll(() => resetGuest());

  it('kpartx -a maps the qcow2 through a read-only nbd; -d removes the maps and disconnects', () => {
    const image = qcow2Image();
    const before = sha256(image);
    const added = ours('-av', image);
    expect(added.stderr).toMatch(/^nbd connected : \/dev\/nbd0 \(qcow2, read-only\) /m);
    expect(added.status).toBe(0);
    expect(added.stdout).toMatch(/^add map nbd0p1 \(\d+:\d+\): 0 16384 linear 43:0 2048$/m);
    expect([...dmTables().keys()].sort()).toEqual(['nbd0p1', 'nbd0p2']);
    expect(connectedNbds()).toEqual(['nbd0']);
    expect(run('blockdev', ['--getro', '/dev/mapper/nbd0p1']).stdout.trim()).toBe('1');
    const deleted = ours('-dv', image);
    expect(deleted.status).toBe(0);
    expect(deleted.stderr).toMatch(/nbd disconnected : \/dev\/nbd0/);
    expectNothingAttached();
    expect(sha256(image)).toBe(before);
  });

  it('kpartx-tui mount IMAGE.qcow2:1 reads the file written before conversion; umount leaves nothing', () => {
    const image = qcow2Image();
    const before = sha256(image);
    const mounted = tui('mount', `${image}:1`, '--json');
    expect(mounted.stderr).toBe('');
    expect(mounted.status).toBe(0);
    const result = JSON.parse(mounted.stdout);
    expect(result).toMatchObject({ backend: 'dm', readOnly: true, fstype: 'ext4', partition: 1 });
    expect(fs.readFileSync(path.join(result.mountpoint, 'hello.txt'), 'utf8')).toBe(
      'written before conversion\n',
    );
    expect(connectedNbds()).toEqual(['nbd0']);
    const umounted = tui('umount', result.mountpoint);
    expect(umounted.stderr).toBe('');
    expect(umounted.status).toBe(0);
    expectNothingAttached();
    expect(sha256(image)).toBe(before);
  });

  it('a connection the user made is never disconnected by -d', () => {
    const image = qcow2Image();
    execFileSync('qemu-nbd', ['--connect=/dev/nbd3', '--read-only', '--format=qcow2', image]);
    expect(ours('-d', image).status).toBe(0);
    expect(connectedNbds()).toEqual(['nbd3']);
  });

  it('SIGTERM mid-add takes the maps back and disconnects', async () => {
    const image = qcow2Image(60);
    const child = spawn(process.execPath, [KPARTX, '-a', image], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Once the image is connected (the maps follow), the signal comes.
    const deadline = Date.now() + 60_000;
    while (connectedNbds().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expectNothingAttached();
  }, 120_000);
});
