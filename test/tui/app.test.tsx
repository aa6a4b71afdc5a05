import { describe, expect, it } from 'vitest';
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
    expect(frame).toContain('id 6f1c2d4e-0000-4000-8000-1234567890ab');
    expect(frame).toContain('512-byte sectors');
    expect(frame).toMatch(/1 +2048 +22527 +20480 +10 MiB +EFI System/);
    expect(frame).toContain('ext4 "root"');
    expect(frame).toContain('loop0p2');
    // The bar: partition numbers and shaded free space.
    expect(frame).toMatch(/░1▓+2█+3▓+░+/);
    fits(frame);
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
