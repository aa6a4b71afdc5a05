/**
 * The app's write modes: the line under the title says the mode on every screen (read-only, direct,
 * overlay); `o` on the layout makes a qcow2 overlay over the image (path shown and editable) and
 * re-opens the app on it, so add and delete go through the overlay's own nbd connection; leaving
 * asks commit / discard / keep and runs endOverlay. Without nbd overlay mode is unavailable, said
 * with the reason, and nothing is made. Real images (sgdisk/mkfs, qemu-img) on the fake machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import type { LeaveResult } from '../../src/tui/leaving.js';
import { writeModeText } from '../../src/tui/write-mode.js';
import { FakeMachine, type FakeMachineOptions } from '../support/fake-machine.js';
import { canMakeDisks, disksSkipReason, makeStackDisks, type StackDisks } from '../support/stack-images.js';
import { ScriptedEngine } from './fixtures.js';
import { expectFits, keys, startApp } from './helpers.js';

describe('the write mode line', () => {
  it('names each mode, the file written to and the one left untouched', () => {
    expect(writeModeText('/vm/disk.img', { readOnly: true }, null)).toBe(
      'write mode: read-only (nothing is written)',
    );
    expect(writeModeText('/vm/disk.img', { readOnly: false }, null)).toBe(
      'write mode: direct: writes go to disk.img',
    );
    expect(writeModeText(null, { readOnly: false }, null)).toBe(
      'write mode: direct: writes go to the source',
    );
    expect(
      writeModeText(
        '/vm/o.qcow2',
        { readOnly: false },
        { path: '/vm/o.qcow2', image: '/vm/disk.img', format: 'raw' },
      ),
    ).toBe('write mode: overlay → /vm/o.qcow2 (disk.img untouched)');
  });

  it('is under the title on every screen: read-only to start with, direct after r', async () => {
    const t = startApp(new ScriptedEngine(), []);
    const line = () => t.frame().split('\n')[1];
    await t.waitFor('disk.img');
    expect(line()).toBe('write mode: read-only (nothing is written)');
    await t.press(keys.enter, 'EFI System');
    expect(line()).toBe('write mode: read-only (nothing is written)');
    expect(t.frame()).toContain('r read-only on');
    // At 80 columns the help line still has room for o and q.
    expect(t.frame().split('\n').at(-1)).toMatch(/o overlay .*q quit/);
    await t.press('r', 'write mode: direct: writes go to disk.img');
    expect(t.frame()).toContain('r read-only off');
    await t.press('a', 'Create 3 maps');
    expect(line()).toBe('write mode: direct: writes go to disk.img');
    expectFits(t.frame());
    await t.press('y', '3 maps created');
    expect(line()).toBe('write mode: direct: writes go to disk.img');
    await t.press(keys.enter);
    await t.press('m', 'mount session');
    expect(line()).toBe('write mode: direct: writes go to disk.img');
    expectFits(t.frame());
    t.app.unmount();
  });
});

describe.skipIf(!canMakeDisks)(`overlay mode in the app (fake machine; ${disksSkipReason})`, () => {
  let disks: StackDisks;
  let qcow2: string;
  let dir: string;
  let savedRunDir: string | undefined;
  beforeAll(() => {
    disks = makeStackDisks(false);
    qcow2 = disks.convert('qcow2');
    dir = mkdtempSync('/tmp/kpt-app-overlay-');
    savedRunDir = process.env.KPARTX_TUI_RUN_DIR;
    process.env.KPARTX_TUI_RUN_DIR = join(dir, 'run');
  }, 120_000);
  afterAll(() => {
    if (savedRunDir === undefined) delete process.env.KPARTX_TUI_RUN_DIR;
    else process.env.KPARTX_TUI_RUN_DIR = savedRunDir;
    rmSync(dir, { recursive: true, force: true });
    disks?.cleanup();
  });

  const size = { columns: 200, rows: 24 };

  function setup(paths: string[], options: FakeMachineOptions = {}) {
    const kernel = new FakeMachine({ dmMajor: 250, nbd: true, ...options });
    const engine = createTuiEngine({
      machine: kernel,
      isRoot: true,
      cwd: disks.dir,
      backend: (_kind, m) => createDmBackend(m),
    });
    const left: LeaveResult[] = [];
    // Wide enough for the temporary directories' paths in the title.
    const t = startApp(engine, paths, { size, onLeave: (result) => left.push(result) });
    /** qemu-img and qemu-nbd, in order. */
    const qemu = () => kernel.calls.filter((c) => c.startsWith('qemu-') || c.startsWith('rm '));
    return { kernel, t, left, qemu };
  }

  /** `o`, the default path, Enter: the app is on the overlay. */
  async function openOverlay(t: ReturnType<typeof setup>['t'], image: string, path?: string) {
    await t.waitFor('ext4 "root"');
    await t.press('o', `Overlay file: ${image}.overlay.qcow2`);
    expect(t.frame()).toContain('Enter create and open it');
    if (path) {
      for (let i = 0; i < `${image}.overlay.qcow2`.length; i++) await t.press(keys.backspace);
      await t.press(path, `Overlay file: ${path}`);
    }
    const overlay = path ?? `${image}.overlay.qcow2`;
    await t.press(keys.enter, `write mode: overlay → ${overlay}`);
    await t.waitFor(`kpartx-tui · ${overlay}`);
    await t.waitFor('ext4 "root"');
    return overlay;
  }

  it('without nbd, overlay mode is unavailable with the reason, and nothing is made', async () => {
    const { kernel, t, qemu } = setup([qcow2], { nbd: false });
    await t.waitFor('ext4 "root"');
    await t.press('o', 'Overlay mode is unavailable: overlay mode attaches the overlay through nbd');
    expect(t.frame()).toContain('this kernel has no nbd');
    expect(t.frame()).not.toContain('Overlay file:');
    expect(kernel.overlays.exists(`${qcow2}.overlay.qcow2`)).toBe(false);
    expect(qemu()).toEqual([]);
    t.app.unmount();
  });

  it('without qemu-img, overlay mode is unavailable and says what to install', async () => {
    const { kernel, t, qemu } = setup([disks.raw], { qemuUtils: false });
    await t.waitFor('ext4 "root"');
    await t.press('o', /Overlay mode is unavailable: qemu-img not found/);
    expect(kernel.overlays.exists(`${disks.raw}.overlay.qcow2`)).toBe(false);
    expect(qemu()).toEqual([]);
    t.app.unmount();
  });

  it('makes the overlay at the path shown, re-opens on it, maps through its own nbd connection; leaving with maps keeps it', async () => {
    const { kernel, t, left, qemu } = setup([qcow2]);
    expect(t.frame().split('\n')[1]).toBe('write mode: read-only (nothing is written)');
    const overlay = await openOverlay(t, qcow2);
    expect(t.frame()).toContain(`Overlay ${overlay} created: writes go to it; ${qcow2} is only read.`);
    expect(t.frame()).toContain('o end overlay');
    expectFits(t.frame(), size);
    expect(qemu()).toEqual([`qemu-img create -f qcow2 -F qcow2 -b ${qcow2} ${overlay}`]);
    // Its layout is the image's, read through the overlay's backing file.
    expect(t.frame()).toContain('qcow2 image');
    await t.press('a', /Create \d maps/);
    await t.press('y', /map\(s\) created/);
    // The overlay is connected read-write; the image itself never.
    expect(qemu()[1]).toBe(`qemu-nbd --connect=/dev/nbd0 --format=qcow2 ${overlay}`);
    expect(kernel.calls.some((c) => c.startsWith('qemu-nbd') && c.endsWith(` ${qcow2}`))).toBe(false);
    expect(kernel.dm!.info('nbd0p2')!.readOnly).toBe(false);
    await t.press(keys.enter);
    // Maps of it remain: it cannot be ended now.
    await t.press('o', `Maps of the overlay remain: clean them up (x) before ending the overlay ${overlay}.`);
    // Leaving is not held up: the maps are listed and the overlay is kept, with the way to end it.
    await t.press('q');
    await expect.poll(() => left.length).toBe(1);
    const said = left[0]!.lines.join('\n');
    expect(said).toContain('nbd0p1');
    expect(said).toContain(`the overlay ${overlay} is kept`);
    expect(said).toContain(`kpartx-tui overlay commit ${overlay}`);
    expect(kernel.overlays.exists(overlay)).toBe(true);
    t.app.unmount();
  });

  it('x cleans up the overlay: its maps, then its nbd connection; then it can be ended', async () => {
    const { kernel, t, qemu } = setup([disks.raw]);
    const overlay = await openOverlay(t, disks.raw, join(dir, 'clean.qcow2'));
    await t.press('a', /Create \d maps/);
    await t.press('y', /map\(s\) created/);
    await t.press(keys.enter);
    expect(kernel.nbd.list()).toHaveLength(1);
    await t.press('x', /Clean up|clean up/);
    await t.press('y');
    await vi.waitFor(() => expect(kernel.nbd.list()).toEqual([]), { timeout: 10_000 });
    expect(kernel.dm?.list() ?? []).toEqual([]);
    expect(qemu().at(-1)).toBe('qemu-nbd --disconnect /dev/nbd0');
    await t.press(keys.enter);
    await t.press('o', `End the overlay ${overlay}: commit, discard or keep it?`);
    await t.press('d', `discarded the overlay ${overlay}`);
    expect(kernel.overlays.exists(overlay)).toBe(false);
    t.app.unmount();
  });

  it('leaving asks; discard removes the overlay file and the image was never written', async () => {
    const { kernel, t, left, qemu } = setup([disks.raw]);
    const overlay = await openOverlay(t, disks.raw, join(dir, 'mine.qcow2'));
    expect(qemu()).toEqual([`qemu-img create -f qcow2 -F raw -b ${disks.raw} ${overlay}`]);
    await t.press('a', /Create \d maps/);
    await t.press('y', /map\(s\) created/);
    await t.press(keys.enter);
    await t.press('d', /Remove \d maps/);
    await t.press('y', /removed/);
    await t.press(keys.enter);
    expect(kernel.nbd.list()).toEqual([]);
    await t.press('q', `End the overlay ${overlay}: commit, discard or keep it?`);
    expect(t.frame()).toContain('c commit into the image');
    expectFits(t.frame(), size);
    // Esc goes on with the overlay.
    await t.press(keys.escape);
    await t.waitFor(/r read-only/);
    expect(t.frame()).toContain(`write mode: overlay → ${overlay}`);
    await t.press('q', 'commit, discard or keep it?');
    await t.press('d');
    await expect.poll(() => left.length).toBe(1);
    expect(left[0]!.status).toBe(0);
    expect(left[0]!.lines).toEqual([
      `kpartx-tui: discarded the overlay ${overlay}: ${disks.raw} is as it was`,
    ]);
    expect(kernel.overlays.exists(overlay)).toBe(false);
    expect(qemu().at(-1)).toBe(`rm ${overlay}`);
    expect(qemu().some((c) => c.startsWith('qemu-img commit'))).toBe(false);
    t.app.unmount();
  });

  it('o with the overlay in use asks; commit runs qemu-img commit, removes it and goes on read-only on the image', async () => {
    const { kernel, t, left, qemu } = setup([qcow2]);
    const overlay = await openOverlay(t, qcow2);
    await t.press('o', 'commit, discard or keep it?');
    await t.press('c', `committed the overlay ${overlay} into ${qcow2} and removed it`);
    await t.waitFor(`kpartx-tui · ${qcow2}`);
    expect(t.frame().split('\n')[1]).toBe('write mode: read-only (nothing is written)');
    const calls = qemu();
    expect(calls.slice(-2)).toEqual([`qemu-img commit ${overlay}`, `rm ${overlay}`]);
    expect(kernel.overlays.exists(overlay)).toBe(false);
    expect(left).toEqual([]);
    t.app.unmount();
  });

  it('keep leaves the overlay and says how to end it later; a taken path is refused before anything is made', async () => {
    const { kernel, t, qemu } = setup([qcow2]);
    const overlay = await openOverlay(t, qcow2);
    await t.press(keys.escape, 'commit, discard or keep it?');
    await t.press('k', `the overlay ${overlay} is kept`);
    // Back on the list, with the overlay still there.
    await t.waitFor('write mode: read-only (nothing is written)');
    expect(kernel.overlays.exists(overlay)).toBe(true);
    // Opening the image again: its default overlay path is taken now.
    await t.press('/', /Path|path/);
    await t.press(`${qcow2}`);
    await t.press(keys.enter, 'ext4 "root"');
    const before = qemu().length;
    await t.press('o', `Overlay file: ${overlay}`);
    await t.press(keys.enter, `${overlay} exists: commit or discard it first`);
    expect(qemu().length).toBe(before);
    expect(t.frame()).toContain('write mode: read-only');
    t.app.unmount();
  });
});
