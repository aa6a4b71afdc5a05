/**
 * LUKS in the app's mount session, over the real engine adapter and the fake kernel: a mapped LUKS
 * partition is offered; Enter asks the passphrase, masked; Enter again opens it through the same
 * code as `kpartx-tui mount IMAGE:N` (`<map>-luks`, read-only) and mounts the ext4 inside; `u`
 * unmounts and closes it before anything else; a wrong passphrase leaves nothing open; without
 * device-mapper the row says LUKS needs it and nothing is asked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import type { LvmHostFacts, Machine } from '../../src/engine/machine.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { vgText, writePv } from '../support/lvm-writer.js';
import { expectFits, keys, startApp } from './helpers.js';
import { dosImage, stampExt4 } from './images.js';

const IMAGE = '/img/vault.img';
const PAYLOAD = 32;
const PASSPHRASE = 'open sesame';

/** Partition 1: ext4 "boot"; partition 2: LUKS2 whose plaintext (PAYLOAD sectors in) is ext4 "inner". */
function vaultImage(): Uint8Array {
  const image = dosImage(65536, [
    { type: 0x83, start: 2048, size: 16384 },
    { type: 0x83, start: 18432, size: 16384 },
  ]);
  stampExt4(image, 2048, 'boot');
  image.set([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0x00, 0x02], 18432 * 512);
  stampExt4(image, 18432 + PAYLOAD, 'inner');
  return image;
}

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kpartx-tui-luks-session-'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

/** The same, with a PV of VG `ubuntu-vg` in LUKS (Ubuntu's encrypted default) instead of ext4. */
function pvImage(): Uint8Array {
  const image = vaultImage();
  image.set(writePv({ size: 6 * 1024 * 1024, text: vgText('ubuntu-vg', 1, 1, 1) }), (18432 + PAYLOAD) * 512);
  stampExt4(image, 18432 + PAYLOAD + 2048, 'lvroot'); // lv0 starts at the PV's pe_start
  return image;
}

function setup(options: { dm?: boolean; image?: Uint8Array; lvmHost?: LvmHostFacts } = {}) {
  const kernel = new FakeMachine({
    dmMajor: 250,
    luks: { passphrase: PASSPHRASE, payloadSectors: PAYLOAD },
    ...(options.lvmHost ? { lvmHost: options.lvmHost } : {}),
    ...(options.dm === false ? { dm: false } : {}),
  });
  kernel.addFile(IMAGE, options.image ?? vaultImage());
  const engine = createTuiEngine({
    machine: kernel,
    isRoot: true,
    mountRoot: join(scratch, 'mnt'),
    cwd: scratch,
    ...(options.dm === false ? {} : { backend: (_kind: unknown, k: Machine) => createDmBackend(k) }),
  });
  return { kernel, engine };
}

async function openSession(t: ReturnType<typeof startApp>) {
  await t.waitFor('crypto_LUKS');
  // Direct mode: the volume is opened read-write when asked, as these cases check.
  await t.press('r', 'read-only off');
  await t.press('a', 'Create 2 maps?');
  await t.press('y', /created and confirmed|Failed/);
  await t.press(keys.enter, 'dos table');
  await t.press('m', 'Mount read-only: yes');
}

const crypt = (kernel: FakeMachine) => kernel.calls.filter((c) => c.startsWith('crypt'));

describe('LUKS in the mount session', () => {
  it('offers the LUKS map, asks the passphrase masked, mounts what is inside, and u closes it', async () => {
    const { kernel, engine } = setup();
    const t = startApp(engine, [IMAGE]);
    await openSession(t);
    expect(t.frame()).toMatch(/loop0p2 +8(\.0)? MiB +crypto_LUKS/);
    expect(t.frame()).not.toContain('Not mounted here');
    await t.press(keys.down);
    await t.press(keys.enter, 'Passphrase for loop0p2 (LUKS, opened read-only):');
    await t.press('open ', 'read-only): •••••');
    await t.press('sesamX');
    await t.press(keys.backspace);
    await t.press('e', 'read-only): •••••••••••');
    expect(t.frame()).not.toContain('sesame');
    expect(t.frame()).toContain('Enter open and mount');
    expectFits(t.frame());
    expect(crypt(kernel)).toEqual([]);
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p2-luks (ext4, read-only, noexec)');
    expect(crypt(kernel)).toEqual(['crypt.open loop0p2-luks ro']);
    expect(kernel.mounts.list().map((m) => m.source)).toEqual(['/dev/mapper/loop0p2-luks']);
    expect(t.frame()).not.toContain('sesame');

    kernel.calls.length = 0;
    await t.press('u', 'unmounted');
    await t.waitFor(/loop0p2 +8(\.0)? MiB +crypto_LUKS/);
    const undone = kernel.calls.filter((c) => /^(unmount|crypt|dm\.remove)/.test(c));
    expect(undone[0]).toMatch(/^unmount /);
    expect(undone.slice(1)).toEqual(['crypt.close loop0p2-luks', 'dm.remove loop0p2-luks']);
    expect(kernel.dm?.list().map((m) => m.name)).toEqual(['loop0p1', 'loop0p2']);

    await t.press('x', 'map(s) removed');
    await t.press(keys.enter, 'Clean: vault.img has no maps left');
    expect(kernel.dm?.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    t.app.unmount();
  });

  it('a wrong passphrase is said, nothing stays open, and Esc cancels a passphrase unasked', async () => {
    const { kernel, engine } = setup();
    const t = startApp(engine, [IMAGE]);
    await openSession(t);
    await t.press(keys.down);
    await t.press(keys.enter, 'Passphrase for loop0p2');
    await t.press('wrong', '•••••');
    await t.press(
      keys.enter,
      'error: loop0p2: cryptsetup open failed: No key available with this passphrase.',
    );
    expect(crypt(kernel)).toEqual(['crypt.open loop0p2-luks ro']);
    expect(kernel.dm?.list().map((m) => m.name)).toEqual(['loop0p1', 'loop0p2']);
    expect(kernel.mounts.list()).toEqual([]);

    await t.press(keys.enter, 'Passphrase for loop0p2');
    await t.press('xyz', '•••');
    await t.press(keys.escape);
    await t.waitFor(/Enter mount/);
    expect(t.frame()).not.toContain('Passphrase for');
    // Esc only closed the field: the session is still there, and nothing more was opened.
    expect(t.frame()).toContain('Mount read-only: yes');
    expect(crypt(kernel)).toEqual(['crypt.open loop0p2-luks ro']);
    t.app.unmount();
  });

  it('a PV inside, on a host whose lvm2 activates new PVs by itself: the note warns, as the CLI does', async () => {
    const rule = '/lib/udev/rules.d/69-lvm.rules';
    const { engine } = setup({ image: pvImage(), lvmHost: { rule, eventActivation: true, udev: true } });
    const t = startApp(engine, [IMAGE], { size: { columns: 400, rows: 24 } });
    await openSession(t);
    await t.press(keys.down);
    await t.press(keys.enter, 'Passphrase for loop0p2');
    await t.press(`${PASSPHRASE}\r`, /loop0p2-luks-ubuntu--vg-lv0/);
    expect(t.frame()).toContain(
      `its logical volumes are listed with the maps. Warning: loop0p2-luks is opened by cryptsetup, whose device-mapper map udev sees as a new PV: the host's lvm2 (${rule}, event_activation=1) may activate the VG inside by itself`,
    );
    t.app.unmount();
  });

  it('a PV inside: LUKS stays open, its LV is offered and mounted over <map>-luks; u closes it all', async () => {
    const { kernel, engine } = setup({ image: pvImage() });
    const t = startApp(engine, [IMAGE], { size: { columns: 160, rows: 24 } });
    await openSession(t);
    await t.press(keys.down);
    await t.press(keys.enter, 'Passphrase for loop0p2');
    await t.press(`${PASSPHRASE}\r`, /loop0p2-luks-ubuntu--vg-lv0 +4(\.0)? MiB +ext4 "lvroot"/);
    expect(t.frame()).toContain(
      'opened /dev/mapper/loop0p2 as loop0p2-luks: it holds LVM physical volume of volume group "ubuntu-vg"',
    );
    // No udev rule on this fake host: nothing to warn about.
    expect(t.frame()).not.toContain('Warning:');
    // The LUKS row is no longer on offer: it points at the LV.
    expect(t.frame()).toMatch(
      /loop0p2 crypto_LUKS — LUKS, opened as loop0p2-luks: its logical volumes are listed/,
    );
    expect(crypt(kernel)).toEqual(['crypt.open loop0p2-luks ro']);
    await t.press(keys.down);
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p2-luks-ubuntu--vg-lv0 (ext4, read-only, noexec)');
    const dm = kernel.dm!;
    const luks = dm.list().find((m) => m.name === 'loop0p2-luks')!;
    expect(dm.table('loop0p2-luks-ubuntu--vg-lv0')).toEqual([
      { start: 0, length: 8192, type: 'linear', params: `${luks.devno.major}:${luks.devno.minor} 2048` },
    ]);
    kernel.calls.length = 0;
    await t.press('u', 'unmounted');
    await t.waitFor(/loop0p2 +8(\.0)? MiB +crypto_LUKS/);
    expect(
      kernel.calls
        .filter((c) => /^(unmount|crypt|dm\.remove)/.test(c))
        .map((c) => c.split(' ').slice(0, 2).join(' ')),
    ).toEqual([
      expect.stringMatching(/^unmount /),
      'dm.remove loop0p2-luks-ubuntu--vg-lv0',
      'crypt.close loop0p2-luks',
      'dm.remove loop0p2-luks',
    ]);
    await t.press('x', 'map(s) removed');
    await t.press(keys.enter, 'Clean: vault.img has no maps left');
    expect(kernel.dm?.list()).toEqual([]);
    t.app.unmount();
  });

  it('a PV inside, opened and not mounted: x closes LUKS before removing the maps', async () => {
    const { kernel, engine } = setup({ image: pvImage() });
    const t = startApp(engine, [IMAGE], { size: { columns: 160, rows: 24 } });
    await openSession(t);
    await t.press(keys.down);
    await t.press(keys.enter, 'Passphrase for loop0p2');
    await t.press(`${PASSPHRASE}\r`, /loop0p2-luks-ubuntu--vg-lv0/);
    await t.press('x', 'map(s) removed');
    await t.press(keys.enter, 'Clean: vault.img has no maps left');
    const calls = kernel.calls.filter((c) => /^(crypt|dm\.remove)/.test(c));
    expect(calls.indexOf('crypt.close loop0p2-luks')).toBeLessThan(calls.indexOf('dm.remove loop0p2'));
    expect(kernel.dm?.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    t.app.unmount();
  });

  it('leaving the app while mounted unmounts and closes LUKS', async () => {
    const { kernel, engine } = setup();
    let left: string[] = [];
    const t = startApp(engine, [IMAGE], { onLeave: (result) => (left = result.lines) });
    await openSession(t);
    await t.press(keys.down);
    await t.press(keys.enter, 'Passphrase for loop0p2');
    await t.press(`${PASSPHRASE}\r`, 'Mounted /dev/mapper/loop0p2-luks');
    await t.press('q');
    await expect.poll(() => left.join('\n')).toContain('unmounted /dev/mapper/loop0p2-luks');
    expect(crypt(kernel)).toEqual(['crypt.open loop0p2-luks ro', 'crypt.close loop0p2-luks']);
    expect(kernel.dm?.list().map((m) => m.name)).toEqual(['loop0p1', 'loop0p2']);
    t.app.unmount();
  });

  it('without device-mapper the LUKS map is not offered, and says it needs device-mapper', async () => {
    const { kernel, engine } = setup({ dm: false });
    const t = startApp(engine, [IMAGE], { size: { columns: 160, rows: 24 } });
    await openSession(t);
    await t.waitFor('Not mounted here:');
    const text = t.frame().replace(/\n {4}/g, ' ');
    expect(text).toMatch(
      /loop0p2 crypto_LUKS — LUKS2 encrypted volume: unlocking it \(cryptsetup open\) needs\s+device-mapper/,
    );
    await t.press(keys.down);
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1');
    expect(t.frame()).not.toContain('Passphrase');
    expect(crypt(kernel)).toEqual([]);
    await t.press('u', 'unmounted');
    t.app.unmount();
  });
});
