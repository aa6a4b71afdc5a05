/**
 * Keys that arrive together (typed fast, pasted: one chunk from the terminal) each count, on every
 * screen, through the real engine adapter over the fake kernel.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { ScriptedEngine } from './fixtures.js';
import { keys, startApp } from './helpers.js';
import { dosImage, stampExt4 } from './images.js';

const IMAGE = '/img/three.img';
let scratch: string;
let kernel: FakeMachine;

/** Three ext4 primaries: three maps on offer in the mount picker. */
function threeFilesystems(): Uint8Array {
  const image = dosImage(32768, [
    { type: 0x83, start: 2048, size: 8192 },
    { type: 0x83, start: 10240, size: 8192 },
    { type: 0x83, start: 18432, size: 8192 },
  ]);
  for (const [start, label] of [
    [2048, 'one'],
    [10240, 'two'],
    [18432, 'three'],
  ] as const)
    stampExt4(image, start, label);
  return image;
}

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kpartx-tui-chunks-'));
  kernel = new FakeMachine({ dmMajor: 250 });
  kernel.addFile(IMAGE, threeFilesystems());
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

const engine = () =>
  createTuiEngine({
    machine: kernel,
    isRoot: true,
    mountRoot: join(scratch, 'mnt'),
    cwd: scratch,
    backend: (_kind, k) => createDmBackend(k),
  });

describe('keys typed together', () => {
  it('rrr toggles read-only three times, and `ay` adds', async () => {
    const t = startApp(engine(), [IMAGE]);
    await t.waitFor('ext4 "three"');
    // Read-only to start with: three toggles end on off (direct), two more on off again.
    await t.press('rrr', 'r read-only off');
    await t.press('rr', /r read-only (on|off)/);
    expect(t.frame()).toContain('r read-only off');
    await t.press('ay', /created and confirmed|Failed/);
    expect(kernel.dm?.list().map((m) => [m.name, kernel.dm?.info(m.name)?.readOnly])).toEqual([
      ['loop0p1', false],
      ['loop0p2', false],
      ['loop0p3', false],
    ]);
    t.app.unmount();
  });

  it('Down Down in the mount picker moves two rows, and a chunk with Enter mounts the third', async () => {
    const t = startApp(engine(), [IMAGE]);
    await t.waitFor('ext4 "three"');
    await t.press('ay', /created and confirmed/);
    await t.press(keys.enter, 'dos table');
    await t.press('m', 'Mount read-only: yes');
    await t.press(keys.down + keys.down, /❯ loop0p3/);
    await t.press(keys.up + keys.up + keys.down, /❯ loop0p2/);
    await t.press(`k${keys.down}j\r`, 'Mounted /dev/mapper/loop0p3');
    t.app.unmount();
  });

  it('jj on the source list moves two rows, and `/` with a path and Enter in one chunk opens it', async () => {
    const scripted = new ScriptedEngine();
    const t = startApp(scripted, []);
    await t.waitFor('loop3');
    await t.press('jj', /❯ loop3/);
    await t.press('k', /❯ vda/);
    // `/` opens the path field, the rest of the chunk is typed into it and Enter opens it.
    await t.press('//img/b.img\r', /kpartx-tui · \/img\/b\.img/);
    await t.waitFor('gpt table');
    expect(scripted.calls).toContain('inspect /img/b.img');
    t.app.unmount();
  });
});

describe('the mount picker keeps the context', () => {
  it('starts on the partition picked in the layout, shows type and label, and the whole path at 100 columns', async () => {
    const t = startApp(engine(), [IMAGE], { size: { columns: 100, rows: 30 } });
    await t.waitFor('ext4 "three"');
    await t.press('ay', /created and confirmed/);
    await t.press(keys.enter, 'dos table');
    await t.press(keys.down, /#2 primary/);
    await t.press('m', 'Mount read-only: yes');
    expect(t.frame()).toMatch(/❯ loop0p2 +4 MiB +ext4 "two" +\/dev\/mapper\/loop0p2 250:1/);
    expect(t.frame()).not.toContain('/dev/mapper/loop0…');
    t.app.unmount();
  });

  it('says which filesystems this kernel cannot mount instead of offering them', async () => {
    kernel = new FakeMachine({ dmMajor: 250, filesystems: ['vfat'] });
    kernel.addFile(IMAGE, threeFilesystems());
    const t = startApp(engine(), [IMAGE], { size: { columns: 120, rows: 30 } });
    await t.waitFor('ext4 "three"');
    await t.press('ay', /created and confirmed/);
    await t.press(keys.enter, 'dos table');
    await t.press('m', 'No mapped partition holds a filesystem to mount as it is.');
    expect(t.frame()).toContain(
      'loop0p1 ext4 "one" — ext4 filesystem "one": this kernel cannot mount ext4 (not in /proc/filesystems, no module to load)',
    );
    expect(kernel.mounts.list()).toEqual([]);
    t.app.unmount();
  });
});
