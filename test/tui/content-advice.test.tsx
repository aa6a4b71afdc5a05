/**
 * Content that is not mounted as it is (LUKS, LVM, swap) over the real engine adapter and the fake
 * kernel: the layout says what to run next, the mount session offers only filesystems and explains
 * the rest, and mounting one of the others is refused with the reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { expectFits, keys, startApp } from './helpers.js';
import { dosImage, stampExt4 } from './images.js';

const IMAGE = '/img/mixed.img';
const ascii = (bytes: Uint8Array, at: number, text: string) => {
  for (let i = 0; i < text.length; i++) bytes[at + i] = text.charCodeAt(i);
};

/** A LUKS2 primary header: magic, version 2 (big-endian), label, UUID; its own offset (0) at 0x100. */
function stampLuks2(image: Uint8Array, startSector: number, label: string): void {
  const base = startSector * 512;
  image.set([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0x00, 0x02], base);
  ascii(image, base + 0x18, label);
  ascii(image, base + 0xa8, '0f2b6a1c-4d3e-4b8a-9c71-2e5d8f40a1b3');
}

/** LVM's label CRC: a nibble-table CRC32 seeded with 0xf597a6cf. */
function lvmCrc(bytes: Uint8Array): number {
  let crc = 0xf597a6cf;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (crc & 1 ? 0xedb88320 : 0);
  }
  return crc >>> 0;
}

/** An LVM2 PV label in sector 1 (no volume group yet): LABELONE, its sector, CRC, `LVM2 001`, PV UUID. */
function stampLvmPv(image: Uint8Array, startSector: number): void {
  const at = (startSector + 1) * 512;
  const label = image.subarray(at, at + 512);
  const view = new DataView(label.buffer, label.byteOffset);
  ascii(label, 0, 'LABELONE');
  view.setBigUint64(8, 1n, true);
  view.setUint32(0x14, 0x20, true);
  ascii(label, 0x18, 'LVM2 001');
  ascii(label, 0x20, 'Abcdef1234GhijKlmnOpqrStuvWxyz90');
  view.setUint32(0x10, lvmCrc(label.subarray(0x14)), true);
}

/** Swap v1: `SWAPSPACE2` at the end of the first 4 KiB page, version 1 and a last page in the header. */
function stampSwap(image: Uint8Array, startSector: number, pages: number): void {
  const base = startSector * 512;
  const view = new DataView(image.buffer, image.byteOffset);
  view.setUint32(base + 0x400, 1, true);
  view.setUint32(base + 0x404, pages - 1, true);
  ascii(image, base + 4086, 'SWAPSPACE2');
}

/** ext4 (1), LUKS2 "vault" (2), LVM PV (3), swap (4). */
function mixedImage(): Uint8Array {
  const image = dosImage(65536, [
    { type: 0x83, start: 2048, size: 16384 },
    { type: 0x83, start: 18432, size: 16384 },
    { type: 0x8e, start: 34816, size: 12288 },
    { type: 0x82, start: 47104, size: 16384 },
  ]);
  stampExt4(image, 2048, 'root');
  stampLuks2(image, 18432, 'vault');
  stampLvmPv(image, 34816);
  stampSwap(image, 47104, 2048);
  return image;
}

let scratch: string;
let kernel: FakeMachine;

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kpartx-tui-advice-'));
  kernel = new FakeMachine({ dmMajor: 250 });
  kernel.addFile(IMAGE, mixedImage());
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

function engine() {
  return createTuiEngine({
    machine: kernel,
    isRoot: true,
    mountRoot: join(scratch, 'mnt'),
    cwd: scratch,
    backend: (_kind, k) => createDmBackend(k),
  });
}

describe('layout: next step for content that is not mounted as it is', () => {
  it('shows what to run next for the selected LUKS and LVM partitions, and nothing for ext4', async () => {
    const t = startApp(engine(), [IMAGE]);
    await t.waitFor('crypto_LUKS "vault"');
    expect(t.frame()).not.toContain('next:');
    expectFits(t.frame());

    await t.press(keys.down, /#2 primary/);
    await t.waitFor('next: unlock with `cryptsetup open /dev/mapper/loop0p2 vault`, then mount /dev/');
    expectFits(t.frame());

    await t.press(keys.down, /#3 primary/);
    await t.waitFor('next: a physical volume in no volume group: it holds no logical volume to mount');
    // Never a command that writes to the disk being explored.
    expect(t.frame()).not.toContain('vgcreate');
    expectFits(t.frame());

    await t.press(keys.down, /#4 primary/);
    await t.waitFor('next: nothing to mount (`swapon /dev/mapper/loop0p4` would use it as swap)');
    expectFits(t.frame());
    t.app.unmount();
  });
});

describe('next steps on a kernel without device-mapper', () => {
  it('says cryptsetup needs device-mapper instead of suggesting it', async () => {
    const noDm = new FakeMachine({ dm: false });
    noDm.addFile(IMAGE, mixedImage());
    const t = startApp(
      createTuiEngine({ machine: noDm, isRoot: true, mountRoot: join(scratch, 'mnt'), cwd: scratch }),
      [IMAGE],
      { size: { columns: 160, rows: 24 } },
    );
    await t.waitFor('crypto_LUKS "vault"');
    await t.press(keys.down, /#2 primary/);
    await t.waitFor(
      'next: unlocking it (cryptsetup open) needs device-mapper, which this kernel does not have: load it (`modprobe dm_mod`)',
    );
    expect(t.frame()).not.toContain('`cryptsetup open');
    t.app.unmount();
  });
});

describe('mount session: filesystems on offer, the others explained', () => {
  it('offers the ext4 map and LUKS (opened with a passphrase), explains LVM and swap, and refuses to mount them', async () => {
    const tui = engine();
    const t = startApp(tui, [IMAGE]);
    await t.waitFor('crypto_LUKS "vault"');
    await t.press('r', 'read-only off');
    await t.press('a', 'Create 4 maps?');
    await t.press('y', 'created and confirmed');
    await t.press(keys.enter, 'dos table');
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('Not mounted here:');
    const frame = t.frame();
    expectFits(frame);
    const lines = frame.split('\n');
    const offered = lines.filter((line) => /loop0p\d +\d+ MiB .*\/dev\/mapper\//.test(line));
    // LUKS is offered: device-mapper and cryptsetup are there (tui/luks-session.test.tsx opens it).
    expect(offered.map((line) => /loop0p\d/.exec(line)?.[0])).toEqual(['loop0p1', 'loop0p2']);
    // Each explanation wraps onto indented lines so the command is read in full.
    const text = frame.replace(/\n {4}/g, ' ');
    expect(text).not.toContain('loop0p2 crypto_LUKS "vault" —');
    expect(text).toContain(
      'loop0p3 LVM2_member — LVM physical volume: a physical volume in no volume group: it holds no logical',
    );
    expect(text).toContain(
      'loop0p4 swap — swap space: nothing to mount (`swapon /dev/mapper/loop0p4` would use it as swap)',
    );

    // Moving down reaches LUKS and no further: Enter there asks its passphrase; Esc, up, Enter mounts.
    await t.press(keys.down);
    await t.press(keys.down);
    await t.press(keys.down);
    await t.press(keys.enter, 'Passphrase for loop0p2');
    await t.press(keys.escape);
    await t.press(keys.up);
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1 (ext4, read-only, noexec)');
    expect(kernel.mounts.list()).toHaveLength(1);

    // Asked directly, the engine refuses them with the reason instead of trying a mount.
    await expect(tui.mount('/dev/mapper/loop0p2', { readOnly: true, exec: false })).rejects.toThrow(
      'loop0p2 is not mountable: LUKS2 encrypted volume "vault"; unlock with `cryptsetup open /dev/mapper/loop0p2 vault`',
    );
    await expect(tui.mount('/dev/mapper/loop0p4', { readOnly: true, exec: false })).rejects.toThrow(
      'loop0p4 is not mountable: swap space; nothing to mount',
    );
    expect(kernel.mounts.list()).toHaveLength(1);

    await t.press('u', 'unmounted');
    expect(kernel.mounts.list()).toEqual([]);
    t.app.unmount();
  });
});
