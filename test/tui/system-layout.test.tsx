/**
 * The layout names the Linux root on a partition before anything is mapped or mounted: a GPT disk
 * made by sgdisk with an ESP and an ext4 whose Debian files debugfs wrote shows `Debian 12 root`
 * in the root's row, and the highlighted root's detail names it in full with its hostname; the ESP
 * says nothing of a system.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { canMakeDisks, disksSkipReason, makeStackDisks, type StackDisks } from '../support/stack-images.js';
import { expectFits, keys, startApp } from './helpers.js';

describe.skipIf(!canMakeDisks)(`the layout names a Linux root without mounting (${disksSkipReason})`, () => {
  let disks: StackDisks;
  beforeAll(() => {
    disks = makeStackDisks(false, true);
  }, 60_000);
  afterAll(() => disks?.cleanup());

  it.each([
    [80, 24],
    [120, 30],
  ])('at %ix%i: the root row and its detail name the system, nothing is mapped', async (columns, rows) => {
    const machine = new FakeMachine({ dmMajor: 250 });
    const engine = createTuiEngine({
      machine,
      isRoot: true,
      cwd: disks.dir,
      backend: (_kind, m) => createDmBackend(m),
    });
    const t = startApp(engine, [disks.raw], { size: { columns, rows } });
    await t.waitFor('Debian 12 root');
    const lines = t.frame().split('\n');
    const esp = lines.find((line) => /^[ ●] +1 +2048 /.test(line))!;
    const root = lines.find((line) => /^[ ●] +2 +34816 /.test(line))!;
    expect(esp).toContain('vfat "ESP"');
    expect(esp).not.toContain(' root');
    // The system first: a narrow Contents column cuts the filesystem label, not the system.
    expect(root).toMatch(columns > 80 ? /Debian 12 root · ext4 "root"/ : /Debian 12 root ·/);
    await t.press(keys.down, /#2 primary/);
    expect(t.frame()).toMatch(/#2 primary .*Debian GNU\/Linux 12 root .*host bookworm-vm/s);
    expectFits(t.frame(), { columns, rows });
    expect(machine.dm?.list()).toEqual([]);
    expect(machine.loop.list()).toEqual([]);
    expect(machine.mounts.list()).toEqual([]);
    t.app.unmount();
  });
});
