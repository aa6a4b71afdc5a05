import { isMainThread } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import type { LeaveResult } from '../../src/tui/leaving.js';
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

  it('marks maps read-only until r turns read-only off', async () => {
    const t = start(['/work/disk.img']);
    await t.waitFor(/loop0p1 +offset 1048576 size 10485760 on \/dev\/loop0 ro/);
    expect(t.frame()).toContain('read-only on');
    await t.press('r', /loop0p1 +offset 1048576 size 10485760 on \/dev\/loop0$/m);
    expect(t.frame()).toContain('read-only off');
    expect(t.frame()).not.toMatch(/on \/dev\/loop0 ro/);
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
  /** The app with its leave result captured (the status and what run.tsx prints afterwards). */
  function startLeaving(paths: string[], options: ScriptedEngineOptions = {}) {
    const engine = new ScriptedEngine(options);
    let left: LeaveResult | undefined;
    const t = startApp(engine, paths, {
      onLeave: (result) => {
        left = result;
      },
    });
    const result = async () => {
      await vi.waitFor(() => expect(left).toBeDefined(), { timeout: 5000 });
      return left!;
    };
    return { engine, ...t, result };
  }

  it('Ctrl-C during an add stops it before its next map, takes it back, and leaves with 130', async () => {
    const t = startLeaving(['/work/disk.img'], { mapDelayMs: 40 });
    await t.waitFor('gpt table');
    await t.press('r', 'read-only off');
    await t.press('a', 'Create 3 maps?');
    t.app.stdin.write('y');
    await t.waitFor(/✓ loop0p1/);
    t.app.stdin.write(keys.ctrlC);
    await t.waitFor('Ctrl-C: stopping before the next map');
    const left = await t.result();
    expect(left.status).toBe(130);
    expect(left.lines).toEqual([
      'kpartx-tui: adding maps of /work/disk.img: interrupted by SIGINT; the add was rolled back: nothing it made is left',
    ]);
    expect(t.engine.mapped.size).toBe(0);
    // The progress screen said so before the app left (with CI set, Ink's last frame may be blank).
    expect(t.app.frames.some((frame) => frame.includes('rolled back'))).toBe(true);
    // The app has exited: further keys change nothing.
    const last = t.frame();
    t.app.stdin.write('q');
    await new Promise((r) => setTimeout(r, 50));
    expect(t.frame()).toBe(last);
    t.app.unmount();
  });

  it('q leaves from the source list, with nothing to report', async () => {
    const t = startLeaving([]);
    await t.waitFor('disk.img');
    await t.press('q');
    expect(await t.result()).toEqual({ status: 0, lines: [] });
    const last = t.frame();
    await t.press('/');
    expect(t.frame()).toBe(last);
    t.app.unmount();
  });

  it('q with maps present says which maps and loop stay, and how to remove them', async () => {
    const t = startLeaving(['/work/disk.img']);
    await t.waitFor('gpt table');
    await t.press('r', 'read-only off');
    await t.press('a', 'Create 3 maps?');
    await t.press('y', 'maps created and confirmed');
    await t.press(keys.enter, 'gpt table');
    await t.press('q');
    expect(await t.result()).toEqual({
      status: 0,
      lines: [
        'kpartx-tui: still present after leaving:',
        '  /work/disk.img: 3 maps (loop0p1, loop0p2, loop0p3, each a loop device), loop device /dev/loop0',
        '  to remove: kpartx -d /work/disk.img',
      ],
    });
    t.app.unmount();
  });

  it('q in the mount session unmounts, says so, and says what stays', async () => {
    const t = startLeaving(['/work/disk.img']);
    await t.waitFor('gpt table');
    await t.press('r', 'read-only off');
    await t.press('a', 'Create 3 maps?');
    await t.press('y', 'maps created and confirmed');
    await t.press(keys.enter, 'gpt table');
    await t.press('m', 'Mount read-only');
    await t.press(keys.enter, 'hello.txt');
    await t.press('q');
    const left = await t.result();
    expect(left.status).toBe(0);
    expect(left.lines[0]).toBe('kpartx-tui: unmounted /dev/mapper/loop0p1 from /tmp/kpartx-tui-x/loop0p2');
    expect(left.lines.slice(1)).toEqual([
      'kpartx-tui: still present after leaving:',
      '  /work/disk.img: 3 maps (loop0p1, loop0p2, loop0p3, each a loop device), loop device /dev/loop0',
      '  to remove: kpartx -d /work/disk.img',
    ]);
    expect(t.engine.calls).toContain('unmount /tmp/kpartx-tui-x/loop0p2');
    t.app.unmount();
  });

  it('a failed unmount on the way out is an error: status 1, and the mount is named as staying', async () => {
    const t = startLeaving(['/work/disk.img'], { unmountFails: 'Device or resource busy' });
    await t.waitFor('gpt table');
    await t.press('r', 'read-only off');
    await t.press('a', 'Create 3 maps?');
    await t.press('y', 'maps created and confirmed');
    await t.press(keys.enter, 'gpt table');
    await t.press('m', 'Mount read-only');
    await t.press(keys.enter, 'hello.txt');
    await t.press(keys.ctrlC);
    const left = await t.result();
    expect(left.status).toBe(1);
    expect(left.lines).toEqual([
      'kpartx-tui: cannot unmount /tmp/kpartx-tui-x/loop0p2: Device or resource busy',
      'kpartx-tui: still present after leaving:',
      '  /work/disk.img: 3 maps (loop0p1, loop0p2, loop0p3, each a loop device), loop device /dev/loop0',
      '    loop0p1 is mounted on /tmp/kpartx-tui-x/loop0p2',
      '  to remove: umount /tmp/kpartx-tui-x/loop0p2 && kpartx -d /work/disk.img',
    ]);
    t.app.unmount();
  });

  it.skipIf(!isMainThread)('SIGTERM while the app is idle leaves with 143 and says what stays', async () => {
    const t = startLeaving(['/work/disk.img']);
    await t.waitFor('gpt table');
    await t.press('r', 'read-only off');
    await t.press('a', 'Create 3 maps?');
    await t.press('y', 'maps created and confirmed');
    process.kill(process.pid, 'SIGTERM');
    const left = await t.result();
    expect(left.status).toBe(143);
    expect(left.lines[0]).toBe('kpartx-tui: SIGTERM received; leaving');
    expect(left.lines[2]).toBe(
      '  /work/disk.img: 3 maps (loop0p1, loop0p2, loop0p3, each a loop device), loop device /dev/loop0',
    );
    t.app.unmount();
  });

  it.skipIf(!isMainThread)(
    'SIGTERM in the mount session unmounts, says so, and leaves with 143',
    async () => {
      const t = startLeaving(['/work/disk.img']);
      await t.waitFor('gpt table');
      await t.press('r', 'read-only off');
      await t.press('a', 'Create 3 maps?');
      await t.press('y', 'maps created and confirmed');
      await t.press(keys.enter, 'gpt table');
      await t.press('m', 'Mount read-only');
      await t.press(keys.enter, 'hello.txt');
      process.kill(process.pid, 'SIGTERM');
      const left = await t.result();
      expect(left.status).toBe(143);
      expect(left.lines.slice(0, 3)).toEqual([
        'kpartx-tui: SIGTERM received; leaving',
        'kpartx-tui: unmounted /dev/mapper/loop0p1 from /tmp/kpartx-tui-x/loop0p2',
        'kpartx-tui: still present after leaving:',
      ]);
      expect(t.engine.mounted).toBeNull();
      t.app.unmount();
    },
  );

  it.skipIf(!isMainThread)(
    'SIGHUP during an add is held: the add stops, is taken back, and the app leaves with 129',
    async () => {
      const t = startLeaving(['/work/disk.img'], { mapDelayMs: 40 });
      await t.waitFor('gpt table');
      await t.press('r', 'read-only off');
      await t.press('a', 'Create 3 maps?');
      t.app.stdin.write('y');
      await t.waitFor(/✓ loop0p1/);
      process.kill(process.pid, 'SIGHUP');
      const left = await t.result();
      expect(left.status).toBe(129);
      expect(left.lines).toEqual([
        'kpartx-tui: adding maps of /work/disk.img: interrupted by SIGHUP; the add was rolled back: nothing it made is left',
      ]);
      expect(t.engine.mapped.size).toBe(0);
      t.app.unmount();
    },
  );
});

describe('terminal size', () => {
  it('fits 80x24 on every screen of a flow, and uses the room of a larger terminal', async () => {
    const engine = new ScriptedEngine();
    const small = startApp(engine, ['/work/disk.img']);
    await small.waitFor('gpt table');
    fits(small.frame());
    // The text columns take what their cells need: at 80 columns these short names all fit whole.
    expect(small.frame()).toMatch(/Linux filesystem +root +ext4 "root"/);
    await small.press('r', 'read-only off');
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
