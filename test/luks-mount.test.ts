/**
 * LUKS under `kpartx-tui mount`/`umount`, on the fake machine: what is made and taken back, in
 * which order (the LUKS mapping is closed after the unmount and before its partition map goes),
 * the refusals before anything is made (no device-mapper, no cryptsetup), a wrong passphrase, a
 * failure after the open, `--key-file`, and the passphrase asked once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendKind } from '../src/engine/backend.js';
import { createDmBackend } from '../src/engine/backends/dm.js';
import { createLoopBackend } from '../src/engine/backends/loop.js';
import { NO_DM_CRYPT } from '../src/engine/workflow/luks.js';
import { luksOperand, type MountFaceDeps, mountMain, mountSource, umountMain } from '../src/mount/main.js';
import { passwdMain } from '../src/mount/passwd.js';
import { pipedLines } from '../src/mount/password-input.js';
import { mbrImage } from './cli-helpers.js';
import { FakeMachine, type FakeMachineOptions } from './support/fake-machine.js';

const IMAGE = '/img/crypt.img';
const PAYLOAD = 32; // sectors of "header" before the plaintext in the fake's LUKS
const START = 2048;

/** Partition 1: a LUKS2 header, then (PAYLOAD sectors in) an ext4 superblock; partition 2 empty. */
function luksImage(inner: 'ext4' | 'swap' = 'ext4'): Uint8Array {
  const image = mbrImage(16384, [
    [0x83, START, 8192],
    [0x83, 10240, 4096],
  ]);
  const at = START * 512;
  image.set([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0, 2], at); // "LUKS\xBA\xBE", version 2, hdr offset 0
  const plain = at + PAYLOAD * 512;
  if (inner === 'ext4') {
    const view = new DataView(image.buffer, image.byteOffset);
    view.setUint16(plain + 1080, 0xef53, true);
    view.setUint32(plain + 1048, 2, true); // 4 KiB blocks
    view.setUint32(plain + 1028, 1000, true); // s_blocks_count
  } else {
    image.set(new TextEncoder().encode('SWAP-SPACE'), plain + 4086); // swap v0
  }
  return image;
}

let dir: string;
let savedRunDir: string | undefined;
beforeAll(() => {
  dir = mkdtempSync('/tmp/kpt-luks-fake-');
  savedRunDir = process.env.KPARTX_TUI_RUN_DIR;
  process.env.KPARTX_TUI_RUN_DIR = join(dir, 'run');
});
afterAll(() => {
  if (savedRunDir === undefined) delete process.env.KPARTX_TUI_RUN_DIR;
  else process.env.KPARTX_TUI_RUN_DIR = savedRunDir;
  rmSync(dir, { recursive: true, force: true });
});

function setup(options: FakeMachineOptions = {}, inner: 'ext4' | 'swap' = 'ext4') {
  const kernel = new FakeMachine({
    luks: { passphrase: 'correct horse', payloadSectors: PAYLOAD },
    ...options,
  });
  kernel.addFile(IMAGE, luksImage(inner));
  const out = { stdout: '', stderr: '' };
  const asked: string[] = [];
  const deps = (passphrase = 'correct horse'): MountFaceDeps => ({
    machine: kernel,
    makeBackend: (kind: BackendKind) => (kind === 'dm' ? createDmBackend(kernel) : createLoopBackend(kernel)),
    stdout: (text) => {
      out.stdout += text;
    },
    stderr: (text) => {
      out.stderr += text;
    },
    mountRoot: join(dir, 'mnt'),
    readPassphrase: async (what) => {
      asked.push(what);
      return passphrase;
    },
  });
  /** The state-changing calls, without the image paths (stable across runs). */
  const calls = () =>
    kernel.calls.filter((c) => /^(loop\.|dm\.create|dm\.remove|crypt|mount|umount)/.test(c));
  const nothingLeft = () => {
    expect(kernel.dm?.list() ?? []).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    expect(kernel.mounts.list()).toEqual([]);
  };
  return { kernel, deps, out, asked, calls, nothingLeft };
}

describe('kpartx-tui mount IMAGE:N over LUKS (fake machine)', () => {
  it('maps, opens read-only as <map>-luks, mounts what is inside; umount closes it before the map goes', async () => {
    const t = setup();
    const record = await mountSource(`${IMAGE}:1`, { rw: false }, t.deps());
    expect(t.asked).toEqual([`${IMAGE}:1`]);
    expect(record).toMatchObject({
      partition: 1,
      device: '/dev/mapper/loop0p1-luks',
      fstype: 'ext4',
      readOnly: true,
      luks: { name: 'loop0p1-luks', kernelName: 'loop0p1-luks', path: '/dev/mapper/loop0p1-luks' },
    });
    expect(t.kernel.mounts.list().map((m) => m.source)).toEqual(['/dev/mapper/loop0p1-luks']);
    const made = t.calls();
    expect(made.indexOf('dm.create loop0p1')).toBeLessThan(made.indexOf('crypt.open loop0p1-luks ro'));
    expect(made.filter((c) => c.startsWith('crypt'))).toEqual(['crypt.open loop0p1-luks ro']);
    t.kernel.calls.length = 0;
    expect(await umountMain([record.mountpoint, '--json'], t.deps())).toBe(0);
    expect(JSON.parse(t.out.stdout)).toMatchObject({ luks: 'loop0p1-luks', maps: ['loop0p1'] });
    const undone = t.calls();
    const closed = undone.indexOf('crypt.close loop0p1-luks');
    expect(closed).toBeGreaterThan(undone.findIndex((c) => c.startsWith('umount')));
    expect(closed).toBeLessThan(undone.indexOf('dm.remove loop0p1'));
    t.nothingLeft();
  });

  it('--rw opens it writable; --json names the mapping', async () => {
    const t = setup();
    expect(await mountMain([`${IMAGE}:1`, '--rw', '--json'], t.deps())).toBe(0);
    const said = JSON.parse(t.out.stdout);
    expect(said).toMatchObject({ luks: 'loop0p1-luks', readOnly: false, device: '/dev/mapper/loop0p1-luks' });
    expect(t.calls()).toContain('crypt.open loop0p1-luks');
    expect(await umountMain([said.mountpoint], t.deps())).toBe(0);
    t.nothingLeft();
  });

  it('--overlay opens the LUKS volume writable on the overlay; umount closes it before the overlay goes', async () => {
    const t = setup({ nbd: true });
    // The overlay's backing file is read from the file system: the image is a real file here.
    const file = join(dir, 'crypt-overlay.img');
    writeFileSync(file, luksImage());
    const record = await mountSource(`${file}:1`, { rw: false, overlay: '' }, t.deps());
    expect(record).toMatchObject({ readOnly: false, luks: { kernelName: 'nbd0p1-luks' } });
    expect(t.kernel.calls).toContain(`qemu-nbd --connect=/dev/nbd0 --format=qcow2 ${file}.overlay.qcow2`);
    expect(t.calls()).toContain('crypt.open nbd0p1-luks');
    expect(await umountMain([file, '--discard'], t.deps())).toBe(0);
    const calls = t.kernel.calls;
    expect(calls.indexOf('crypt.close nbd0p1-luks')).toBeLessThan(
      calls.indexOf('qemu-nbd --disconnect /dev/nbd0'),
    );
    expect(calls.at(-1)).toBe(`rm ${file}.overlay.qcow2`);
    t.nothingLeft();
    expect(t.kernel.nbd.list()).toEqual([]);
  });

  it('without :N, the only LUKS partition is chosen when nothing else mounts', async () => {
    const t = setup();
    const record = await mountSource(IMAGE, { rw: false }, t.deps());
    expect(record.luks?.kernelName).toBe('loop0p1-luks');
    expect(await umountMain([record.mountpoint], t.deps())).toBe(0);
    t.nothingLeft();
  });

  it('a wrong passphrase fails with cryptsetup`s words and leaves nothing', async () => {
    const t = setup();
    await expect(mountSource(`${IMAGE}:1`, { rw: false }, t.deps('wrong'))).rejects.toThrow(
      `${IMAGE}:1: cryptsetup open failed: No key available with this passphrase.`,
    );
    expect(t.calls().filter((c) => c.startsWith('crypt'))).toEqual(['crypt.open loop0p1-luks ro']);
    t.nothingLeft();
  });

  it('a failure after the open closes LUKS, then removes the map, then the loop', async () => {
    const t = setup();
    t.kernel.failOn('mount');
    await expect(mountSource(`${IMAGE}:1`, { rw: false }, t.deps())).rejects.toThrow(
      /Input\/output error|EIO/,
    );
    const calls = t.calls();
    const closed = calls.indexOf('crypt.close loop0p1-luks');
    expect(closed).toBeGreaterThan(calls.indexOf('crypt.open loop0p1-luks ro'));
    expect(closed).toBeLessThan(calls.indexOf('dm.remove loop0p1'));
    expect(calls.indexOf('dm.remove loop0p1')).toBeLessThan(
      calls.findIndex((c) => c.startsWith('loop.detach')),
    );
    t.nothingLeft();
  });

  it('what is inside and not mountable is named, and everything is taken back', async () => {
    const t = setup({}, 'swap');
    await expect(mountSource(`${IMAGE}:1`, { rw: false }, t.deps())).rejects.toThrow(
      /the LUKS volume holds .*swap.*, not a filesystem the kernel mounts directly/i,
    );
    t.nothingLeft();
  });

  it('without device-mapper it says LUKS needs dm-crypt, asks nothing and leaves nothing', async () => {
    const t = setup({ dm: false });
    expect(await mountMain([`${IMAGE}:1`], t.deps())).toBe(1);
    expect(t.out.stderr).toBe(`kpartx-tui mount: ${IMAGE}:1: ${NO_DM_CRYPT}\n`);
    expect(t.asked).toEqual([]);
    expect(t.calls().filter((c) => !c.startsWith('loop.'))).toEqual([]);
    t.nothingLeft();
  });

  it('without cryptsetup it names the package', async () => {
    const t = setup({ cryptsetup: false });
    expect(await mountMain([`${IMAGE}:1`], t.deps())).toBe(1);
    expect(t.out.stderr).toMatch(/cryptsetup is not installed.*package cryptsetup-bin/);
    expect(t.asked).toEqual([]);
    t.nothingLeft();
  });

  it('--key-file hands the file to cryptsetup and asks nothing', async () => {
    const t = setup();
    t.kernel.addFile('/keys/vm.key', new TextEncoder().encode('correct horse'));
    expect(await mountMain([`${IMAGE}:1`, '--key-file', '/keys/vm.key', '--json'], t.deps('wrong'))).toBe(0);
    expect(t.asked).toEqual([]);
    expect(await umountMain([JSON.parse(t.out.stdout).mountpoint], t.deps())).toBe(0);
    t.nothingLeft();
  });

  it('a map named <map>-luks that is not ours is refused and left alone', async () => {
    const t = setup();
    t.kernel.seedMap('loop0p1-luks', 'CRYPT-someone-else', []);
    await expect(mountSource(`${IMAGE}:1`, { rw: false }, t.deps())).rejects.toThrow(
      'loop0p1-luks exists already (not made by this mount); not opening over it',
    );
    expect(t.kernel.dm!.list().map((m) => m.name)).toEqual(['loop0p1-luks']);
    expect(t.kernel.loop.list()).toEqual([]);
  });
});

describe('where the passphrase comes from', () => {
  it('passwd knows before mounting that N is LUKS, without attaching or mapping anything', async () => {
    const t = setup();
    expect(await luksOperand(`${IMAGE}:1`, t.deps())).toBe(`${IMAGE}:1`);
    expect(await luksOperand(IMAGE, t.deps())).toBe(`${IMAGE}:1`);
    expect(await luksOperand(`${IMAGE}:2`, t.deps())).toBeUndefined();
    expect(await luksOperand('/img/missing.img:1', t.deps())).toBeUndefined();
    expect(t.calls()).toEqual([]);
  });

  it('passwd over LUKS asks the passphrase once, before the new password, and takes everything back', async () => {
    const t = setup();
    const order: string[] = [];
    const status = await passwdMain([`${IMAGE}:1`, 'root'], {
      ...t.deps(),
      readPassphrase: async (what) => {
        order.push(`passphrase ${what}`);
        return 'correct horse';
      },
      readPassword: async (user) => {
        order.push(`password ${user}`);
        return 'n3w-Secret';
      },
    });
    // The fake mounts nothing real: the look finds no system and stops there, after one open.
    expect(status).toBe(1);
    expect(t.out.stderr).toMatch(/no Linux root filesystem/);
    expect(order).toEqual([`passphrase ${IMAGE}:1`, 'password root']);
    expect(t.calls().filter((c) => c.startsWith('crypt'))).toEqual([
      'crypt.open loop0p1-luks ro',
      'crypt.close loop0p1-luks',
    ]);
    t.nothingLeft();
  });

  it('reads stdin line by line: the passphrase, then the new password, from one chunk', async () => {
    const input = new PassThrough();
    const next = pipedLines(input);
    input.end('pass phrase\r\nn3w-pw\n');
    expect(await next()).toBe('pass phrase');
    expect(await next()).toBe('n3w-pw');
    await expect(next()).rejects.toThrow('stdin ended before the line was given');
  });

  it('waits for a line split across chunks, and refuses an empty one', async () => {
    const input = new PassThrough();
    const next = pipedLines(input);
    const first = next();
    input.write('sec');
    input.write('ret\n\n');
    expect(await first).toBe('secret');
    await expect(next()).rejects.toThrow('stdin gave an empty line');
    input.end('last');
    expect(await next()).toBe('last');
  });
});
