/**
 * Overlay mode on real nbd and device-mapper (the QEMU guest): `kpartx-tui mount IMG:1 --overlay`
 * on a qcow2 and on a raw image (a GPT disk whose ext4 holds a file) makes a qcow2 overlay beside
 * the image with the real qemu-img, attaches it read-write through the real qemu-nbd and mounts
 * it; a file written there is in the overlay only. `umount --discard` leaves the image's sha256 as
 * it was and deletes the overlay; `umount --commit` writes the file into the image (read back
 * through a fresh read-only mount); `umount` alone keeps the overlay and `kpartx-tui overlay
 * discard` ends it. A SIGTERM during an overlay mount leaves no nbd connection, map or overlay.
 */

import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { boundLoops, dmTables, inGuest, resetGuest, run, sfdiskImage, skipReason, workDir } from './guest.js';

const KPARTX_TUI = path.resolve(import.meta.dirname, '../../bin/kpartx-tui.js');
const tui = (...args: string[]) => run(process.execPath, [KPARTX_TUI, ...args]);
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

const connectedNbds = (): string[] =>
  fs
    .readdirSync('/sys/block')
    .filter((name) => /^nbd\d+$/.test(name) && fs.existsSync(`/sys/block/${name}/pid`))
    .sort();

/** A GPT disk whose partition 1 is an ext4 holding hello.txt, as raw or converted to qcow2. */
function image(format: 'raw' | 'qcow2'): string {
  const raw = sfdiskImage('overlay', 64, 'label: gpt\nstart=2048, size=16384, type=L\nsize=1024, type=L\n');
  const content = `${raw}.p1`;
  fs.mkdirSync(content, { recursive: true });
  fs.writeFileSync(path.join(content, 'hello.txt'), 'written before the overlay\n');
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, '-E', `offset=${2048 * 512}`, raw, '8192k']);
  if (format === 'raw') return raw;
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

/** Mount partition 1 on an overlay and write a file there; the mount's JSON. */
function mountAndWrite(img: string, ...flags: string[]): { mountpoint: string; overlay: string } {
  const mounted = tui('mount', `${img}:1`, '--overlay', '--json', ...flags);
  expect(mounted.stderr).toBe('');
  expect(mounted.status).toBe(0);
  const said = JSON.parse(mounted.stdout);
  expect(said).toMatchObject({ readOnly: false, fstype: 'ext4', partition: 1 });
  expect(fs.readFileSync(path.join(said.mountpoint, 'hello.txt'), 'utf8')).toBe(
    'written before the overlay\n',
  );
  fs.writeFileSync(path.join(said.mountpoint, 'new.txt'), 'written through the overlay\n');
  // qemu-nbd has the overlay, never the image, open for writing.
  expect(connectedNbds()).toEqual(['nbd0']);
  return said;
}

describe.skipIf(!inGuest)(`overlay mode through qemu-nbd (${skipReason})`, () => {
  const runDir = path.join(workDir, 'overlay-run');
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

  for (const format of ['qcow2', 'raw'] as const) {
    it(`${format}: --discard leaves the image as it was; --commit writes the file into it`, () => {
      const img = image(format);
      const before = sha256(img);
      const first = mountAndWrite(img);
      expect(first.overlay).toBe(`${img}.overlay.qcow2`);
      expect(fs.existsSync(first.overlay)).toBe(true);
      const discarded = tui('umount', first.mountpoint, '--discard');
      expect(discarded.status).toBe(0);
      expect(discarded.stderr).toContain(`discarded the overlay ${first.overlay}`);
      expect(fs.existsSync(first.overlay)).toBe(false);
      expect(sha256(img)).toBe(before);
      expectNothingAttached();

      const second = mountAndWrite(img);
      const committed = tui('umount', img, '--commit');
      expect(committed.status).toBe(0);
      expect(committed.stderr).toContain(`committed the overlay ${second.overlay} into ${img}`);
      expect(fs.existsSync(second.overlay)).toBe(false);
      expect(sha256(img)).not.toBe(before);
      expectNothingAttached();

      // A fresh read-only mount of the image itself reads the file the overlay held.
      const look = tui('mount', `${img}:1`, '--json');
      expect(look.status).toBe(0);
      const { mountpoint } = JSON.parse(look.stdout);
      expect(fs.readFileSync(path.join(mountpoint, 'new.txt'), 'utf8')).toBe('written through the overlay\n');
      expect(tui('umount', mountpoint).status).toBe(0);
      expectNothingAttached();
    }, 300_000);
  }

  it('umount alone keeps the overlay and says how to end it; kpartx-tui overlay discard ends it', () => {
    const img = image('raw');
    const before = sha256(img);
    const where = path.join(workDir, 'kept-overlay.qcow2');
    const mounted = mountAndWrite(img, `--overlay=${where}`);
    expect(mounted.overlay).toBe(where);
    const umounted = tui('umount', mounted.mountpoint);
    expect(umounted.status).toBe(0);
    expect(umounted.stderr).toContain(`the overlay ${where} is kept`);
    expect(umounted.stderr).toContain(`kpartx-tui overlay commit ${where}`);
    expectNothingAttached();
    expect(fs.existsSync(where)).toBe(true);
    expect(sha256(img)).toBe(before);
    const discarded = tui('overlay', 'discard', where);
    expect(discarded.status).toBe(0);
    expect(fs.existsSync(where)).toBe(false);
    expect(sha256(img)).toBe(before);
  }, 240_000);

  it('SIGTERM during an overlay mount leaves no nbd connection, map or overlay', async () => {
    const img = image('qcow2');
    const before = sha256(img);
    const overlay = `${img}.overlay.qcow2`;
    const child = spawn(process.execPath, [KPARTX_TUI, 'mount', `${img}:1`, '--overlay'], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Once the overlay file is there, the run holds the signals: it must take everything back.
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(overlay) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(fs.existsSync(overlay)).toBe(false);
    expectNothingAttached();
    expect(sha256(img)).toBe(before);
  }, 120_000);
});
