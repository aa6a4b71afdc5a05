/** A mistyped path, a directory: a message naming the path and the problem, back on the list. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { expectFits, keys, startApp } from './helpers.js';
import { sampleImage } from './images.js';

let scratch: string;
let kernel: FakeMachine;

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kpartx-tui-badpath-'));
  kernel = new FakeMachine({ dmMajor: 250 });
  kernel.addFile('/img/disk.img', sampleImage());
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

describe('a path that cannot be opened', () => {
  it('says the file does not exist, stays on the source list, and every key still works', async () => {
    const missing = join(scratch, 'no-such.img');
    const t = startApp(engine(), [], { size: { columns: 120, rows: 24 } });
    await t.waitFor('type a path');
    await t.press(`/${missing}\r`, `Cannot open ${missing}: no such file or directory`);
    const frame = t.frame();
    expect(frame).toContain('SOURCE');
    expect(frame).not.toContain('failed to stat()');
    expectFits(frame, { columns: 120, rows: 24 });
    // m means nothing on the list: no "Reading…" that never ends.
    await t.press('m');
    await new Promise((r) => setTimeout(r, 100));
    expect(t.frame()).not.toContain('Reading');
    await t.press('//img/disk.img\r', 'dos table');
    t.app.unmount();
  });

  it('says a directory is not a disk image', async () => {
    const t = startApp(engine(), [scratch], { size: { columns: 120, rows: 24 } });
    await t.waitFor(`Cannot open ${scratch}: a directory or special file, not an image or a block device.`);
    expect(t.frame()).toContain('SOURCE');
    await t.press(keys.escape);
    t.app.unmount();
  });
});
