/**
 * A data disk `pvcreate`d whole (lvm2's fixture image, no partition table) in the app: the layout
 * shows its VG and LVs, and the note points at `kpartx-tui mount IMAGE:VG/LV`, which maps them
 * over the image's loop, instead of the host's vgchange.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { lvmFixtureImage } from '../support/lvm-fixtures.js';
import { startApp } from './helpers.js';

describe('a whole-disk PV in the app', () => {
  let dir: string;
  let image: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kpt-lv-whole-'));
    image = join(dir, 'data.img');
    writeFileSync(image, lvmFixtureImage('linear'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shows the VG and its LVs, and points at kpartx-tui mount IMAGE:VG/LV', async () => {
    const engine = createTuiEngine({
      machine: new FakeMachine(),
      isRoot: true,
      cwd: dir,
      backend: (_kind, m) => createDmBackend(m),
    });
    const t = startApp(engine, [image], { size: { columns: 160, rows: 40 } });
    await t.waitFor('fixture-linear/home');
    const frame = t.frame().replace(/\s+/g, ' ');
    expect(frame).toContain('VG fixture-linear');
    expect(frame).toContain(
      `No partition table: the whole disk is a PV of fixture-linear (below); mount an LV with \`kpartx-tui mount ${image}:fixture-linear/LV\``,
    );
    expect(frame).not.toContain('vgchange');
    t.app.unmount();
  });
});
