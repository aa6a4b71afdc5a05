import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_OPTIONS, type Inspection } from '../../src/tui/model.js';
import { ScriptedEngine, type ScriptedEngineOptions } from './fixtures.js';
import { expectFits as fits, keys, startApp } from './helpers.js';

function start(paths: string[], options: ScriptedEngineOptions = {}) {
  const engine = new ScriptedEngine(options);
  return { engine, ...startApp(engine, paths) };
}

describe('source list', () => {
  it('lists images and block devices with kind, size and what they are', async () => {
    const t = start([]);
    await t.waitFor('disk.img');
    expect(t.frame()).toMatch(/disk\.img\s+image\s+64 MiB\s+gpt/);
    expect(t.frame()).toMatch(/vda\s+virtio\s+20 GiB/);
    expect(t.frame()).toMatch(/loop3.*mapped: loop3p1/);
    expect(t.frame()).toContain('/ type a path');
    fits(t.frame());
    t.app.unmount();
  });

  it('opens the highlighted source on Enter and goes back on Esc', async () => {
    const t = start([]);
    await t.waitFor('disk.img');
    await t.press(keys.enter, 'gpt table');
    expect(t.engine.calls).toContain('inspect /work/disk.img');
    await t.press(keys.escape, 'SOURCE');
    t.app.unmount();
  });

  it('opens a typed path', async () => {
    const t = start([]);
    await t.waitFor('disk.img');
    await t.press('/', 'Path:');
    await t.press('/tmp/x.img', '/tmp/x.img');
    await t.press(keys.enter, 'gpt table');
    expect(t.engine.calls).toContain('inspect /tmp/x.img');
    t.app.unmount();
  });
});

describe('layout', () => {
  it('opens straight on the layout of the one path given', async () => {
    const t = start(['/work/disk.img']);
    await t.waitFor('gpt table');
    const frame = t.frame();
    expect(frame).toContain('disk id 6f1c2d4e-0000-4000-8000-1234567890ab');
    expect(frame).toContain('512-byte sectors');
    expect(frame).toMatch(/1 +2048 +22527 +20480 +10 MiB +EFI System/);
    expect(frame).toContain('ext4 "root"');
    expect(frame).toContain('loop0p2');
    // The bar: partition numbers and shaded free space.
    expect(frame).toMatch(/░1▓+2█+3▓+░+/);
    fits(frame);
    t.app.unmount();
  });

  it('draws a look taken before it started on its first frame, then fills in the contents', async () => {
    const engine = new ScriptedEngine();
    const look = engine.inspect('/work/disk.img', DEFAULT_OPTIONS);
    // What the engine's first look gives: the table without the probed contents.
    const first: Inspection = {
      ...look,
      layout: {
        ...look.layout,
        partitions: look.layout.partitions.map(({ contents: _, ...p }) => p),
        contentsPending: true,
      },
    };
    engine.calls.length = 0;
    const t = startApp(engine, ['/work/disk.img'], { first });
    expect(t.frame()).toContain('gpt table');
    expect(t.frame()).toMatch(/1 +2048 +22527 +20480 +10 MiB +EFI System/);
    expect(t.frame()).not.toContain('ext4 "root"');
    await t.waitFor('ext4 "root"');
    // One more look, for the contents; not a second one for the layout it was given.
    expect(engine.calls).toEqual(['inspect /work/disk.img']);
    t.app.unmount();
  });

  it('reads the source list only when going back to it', async () => {
    const engine = new ScriptedEngine();
    const listed = vi.spyOn(engine, 'listSources');
    const t = startApp(engine, ['/work/disk.img']);
    await t.waitFor('gpt table');
    await new Promise((r) => setTimeout(r, 30));
    expect(listed).not.toHaveBeenCalled();
    await t.press(keys.escape, 'SOURCE');
    await t.waitFor('vda');
    expect(listed).toHaveBeenCalledTimes(1);
    t.app.unmount();
  });

  it('updates the preview live while the delimiter is typed, and Esc restores it', async () => {
    const t = start(['/work/disk.img']);
    await t.waitFor('loop0p1');
    await t.press('p', 'Delimiter');
    await t.press('-part', 'loop0-part1');
    expect(t.frame()).toContain('loop0-part3');
    await t.press(keys.escape, 'loop0p1');
    expect(t.frame()).not.toContain('loop0-part1');
    t.app.unmount();
  });

  it('marks maps read-only when r is pressed', async () => {
    const t = start(['/work/disk.img']);
    await t.waitFor('read-only off');
    await t.press('r', /loop0p1 +offset 1048576 size 10485760 on \/dev\/loop0 ro/);
    expect(t.frame()).toContain('read-only on');
    t.app.unmount();
  });

  it('says which actions need root when not root', async () => {
    const t = start(['/work/disk.img'], { isRoot: false });
    await t.waitFor('not root: browsing only');
    expect(t.frame()).toContain('add (root)');
    await t.press('a', 'Adding maps needs root');
    expect(t.frame()).toContain('gpt table');
    t.app.unmount();
  });
});

describe('leaving', () => {
  it('Ctrl-C during an add waits for it to finish: every map is made, then the app leaves', async () => {
    const t = start(['/work/disk.img']);
    await t.waitFor('gpt table');
    await t.press('a', 'Create 3 maps?');
    t.app.stdin.write('y');
    await t.waitFor('Creating maps');
    t.app.stdin.write(keys.ctrlC);
    await t.waitFor('Leaving after the current operation has finished');
    await vi.waitFor(() => expect(t.engine.mapped.size).toBe(3), { timeout: 5000 });
    // The app has exited: further keys change nothing.
    const last = t.frame();
    t.app.stdin.write('q');
    await new Promise((r) => setTimeout(r, 50));
    expect(t.frame()).toBe(last);
    t.app.unmount();
  });

  it('q leaves from the source list', async () => {
    const t = start([]);
    await t.waitFor('disk.img');
    await t.press('q');
    const last = t.frame();
    await t.press('/');
    expect(t.frame()).toBe(last);
    t.app.unmount();
  });
});

describe('terminal size', () => {
  it('fits 80x24 on every screen of a flow, and uses the room of a larger terminal', async () => {
    const engine = new ScriptedEngine();
    const small = startApp(engine, ['/work/disk.img']);
    await small.waitFor('gpt table');
    fits(small.frame());
    expect(small.frame()).not.toContain('Linux filesystem ');
    await small.press('a', 'Create 3 maps?');
    fits(small.frame());
    await small.press('y', 'created and confirmed');
    fits(small.frame());
    small.app.unmount();

    // (ink-testing-library's stream is 100 columns wide.)
    const big = startApp(new ScriptedEngine(), ['/work/disk.img'], { size: { columns: 100, rows: 40 } });
    await big.waitFor('gpt table');
    fits(big.frame(), { columns: 100, rows: 40 });
    expect(big.frame()).toContain('Linux filesystem ');
    big.app.unmount();
  });
});
