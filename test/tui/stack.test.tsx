/**
 * The app over the storage stack: a qcow2 made by qemu-img from a GPT disk (ESP, ext4 root, an
 * LVM PV whose VG lvm2 wrote) shows the container line, the partitions inside with their contents,
 * and the VG with its LVs under the PV partition; adding it is refused with what it needs (nbd),
 * before anything is attached.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { canMakeDisks, disksSkipReason, makeStackDisks, type StackDisks } from '../support/stack-images.js';
import { expectFits, keys, startApp } from './helpers.js';

describe.skipIf(!canMakeDisks)(`the layout through a container and LVM (${disksSkipReason})`, () => {
  let disks: StackDisks;
  let qcow2: string;
  beforeAll(() => {
    disks = makeStackDisks(true, true);
    qcow2 = disks.convert('qcow2');
  }, 120_000);
  afterAll(() => disks?.cleanup());

  const engineOver = (machine: FakeMachine) =>
    createTuiEngine({ machine, isRoot: true, cwd: disks.dir, backend: (_kind, m) => createDmBackend(m) });

  it('shows the container, the partitions inside, and the VG with its LVs under the PV partition', async () => {
    const t = startApp(engineOver(new FakeMachine({ dmMajor: 250 })), [qcow2]);
    // The Debian root inside the qcow2 is named without mounting, before its filesystem label.
    await t.waitFor(/2 +34816 .*Debian 12 root/);
    const frame = t.frame();
    expect(frame).toMatch(
      /qcow2 image · virtual size 64(\.0)? MiB · QEMU qcow2 v3 image · cluster size 64 KiB/,
    );
    expect(frame).toContain('gpt table');
    expect(frame).toMatch(/1 +2048 +34815 +32768 .*vfat "ESP"/);
    if (disks.lvm) {
      // Selecting partition 3 brings the rows under it into view (80x24 shows few table rows).
      await t.press(keys.down);
      await t.press(keys.down, /vgtest\/data/);
      const lines = t.frame().split('\n');
      expect(t.frame()).toMatch(/3 +75776 .*LVM2_member/);
      // Under partition 3: the VG, then each LV with size, segment type, content and attach.
      const pv = lines.findIndex((line) => /^\s*3 +75776/.test(line.replace(/^[ ●]/, '')));
      expect(lines[pv + 1]).toMatch(/└ VG vgtest · 24 MiB · 4(\.0)? MiB free/);
      // The LV's system, read through its extents without mounting, comes before its content.
      expect(lines[pv + 2]).toMatch(
        /vgtest\/root · 12 MiB · linear · Rocky Linux 9.4 root · ext4 "lvroot" · …/,
      );
      expect(lines[pv + 3]).toMatch(/vgtest\/data · 8(\.0)? MiB · linear · lv linear map/);
      // The next step of the PV is the layer shown under it, not a vgchange on this machine.
      if (!t.frame().includes('#3 primary')) await t.press(keys.down, /#3 primary/);
      await t.waitFor('next: its volume group vgtest and logical volumes are shown below it');
    }
    // The preview says why nothing maps, and what this kernel lacks.
    expect(frame).toContain('Maps to create');
    expect(frame).toContain('! Not mapped: a qcow2 image needs nbd (qemu-nbd), and this kernel has no nbd');
    expectFits(frame);
    await t.press('a', 'Not mapped: a qcow2 image needs nbd (qemu-nbd), and this kernel has no nbd');
    t.app.unmount();
  });

  const addOptions = {
    readOnly: false,
    delimiter: null,
    forceGpt: false,
    sync: true,
    backend: 'auto' as const,
  };

  it('without nbd, an add of the container is refused before any loop or map is made', async () => {
    const kernel = new FakeMachine({ dmMajor: 250, nbd: false });
    await expect(engineOver(kernel).add(qcow2, addOptions, () => {})).rejects.toThrow(
      /this kernel has no nbd \(no \/sys\/module\/nbd, no \/dev\/nbd0\)/,
    );
    expect(kernel.loop.list()).toEqual([]);
    expect(kernel.dm?.list()).toEqual([]);
    expect(kernel.nbd.list()).toEqual([]);
  });

  it('with nbd, the container is attached through qemu-nbd, never its file as a loop, and delete lets it go', async () => {
    const kernel = new FakeMachine({ dmMajor: 250, nbd: true });
    const engine = engineOver(kernel);
    expect((await engine.add(qcow2, addOptions, () => {})).ok).toBe(true);
    expect(kernel.loop.list().filter((loop) => loop.backingFile === qcow2)).toEqual([]);
    expect(kernel.nbd.list().map((c) => c.path)).toEqual(['/dev/nbd0']);
    expect(
      kernel.dm
        ?.list()
        .map((m) => m.name)
        .sort(),
    ).toEqual(['nbd0p1', 'nbd0p2', 'nbd0p3']);
    expect((await engine.remove(qcow2, addOptions, () => {})).ok).toBe(true);
    expect(kernel.dm?.list()).toEqual([]);
    expect(kernel.nbd.list()).toEqual([]);
  });

  it('a raw disk with LVM shows the same VG rows, and its partitions still map', async () => {
    if (!disks.lvm) return;
    const t = startApp(engineOver(new FakeMachine({ dmMajor: 250 })), [disks.raw]);
    await t.waitFor('vgtest/root');
    const frame = t.frame();
    expect(frame).not.toContain('qcow2');
    expect(frame).toMatch(/vgtest\/root · 12 MiB · linear · Rocky Linux 9.4 root · ext4 "lvroot"/);
    expect(frame).toMatch(/loop0p3 +0 55263 linear 7:0 75776/);
    expectFits(frame);
    t.app.unmount();
  });
});
