/**
 * The layout names an XFS root before anything is mapped or mounted: a GPT disk made by sgdisk whose
 * second partition is an XFS made by mkfs.xfs with a Rocky Linux root shows `Rocky Linux 9.4 root`
 * in its row, and the highlighted row's detail names its host and SELinux mode.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import {
  hasSgdisk,
  hasXfsprogs,
  makeXfsGptDisk,
  ROCKY_XFS_SMALL,
  XFS_ROOT_START,
} from '../support/xfs-images.js';
import { expectFits, keys, startApp } from './helpers.js';

describe.skipIf(!hasXfsprogs || !hasSgdisk)('the layout names an XFS root without mounting', () => {
  let dir: string;
  let raw: string;
  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpt-xfs-layout-');
    raw = makeXfsGptDisk(dir, ROCKY_XFS_SMALL);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('at 120x30: the root row and its detail name the system, nothing is mapped', async () => {
    const machine = new FakeMachine({ dmMajor: 250 });
    const engine = createTuiEngine({
      machine,
      isRoot: true,
      cwd: dir,
      backend: (_kind, m) => createDmBackend(m),
    });
    const t = startApp(engine, [raw], { size: { columns: 120, rows: 30 } });
    await t.waitFor('Rocky Linux 9.4 root');
    const root = t
      .frame()
      .split('\n')
      .find((line) => new RegExp(`^[ ●] +2 +${XFS_ROOT_START} `).test(line))!;
    expect(root).toMatch(/Rocky Linux 9\.4 root · xfs "rocky"/);
    await t.press(keys.down, /#2 primary/);
    expect(t.frame()).toMatch(
      /#2 primary .*Rocky Linux 9\.4 root .*host rocky-vm .*SELinux enforcing \(targeted\)/s,
    );
    expectFits(t.frame(), { columns: 120, rows: 30 });
    expect(machine.dm?.list()).toEqual([]);
    expect(machine.loop.list()).toEqual([]);
    expect(machine.mounts.list()).toEqual([]);
    t.app.unmount();
  });
});
