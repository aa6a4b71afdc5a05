/**
 * A container on a kernel without nbd, converted to raw from the layout: `c` asks where the copy
 * goes (`<name>.raw` beside the image, editable), Enter shows the free-space check, Enter again
 * runs the real qemu-img with the progress bar fed by its `-p` output and opens the copy's layout.
 * Esc or Ctrl-C during the conversion reaches qemu-img's runner and leaves no part file; the
 * original is never written.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { type ConvertOptions, convertToRaw } from '../../src/kernel/qemu-img.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { canMakeDisks, disksSkipReason, makeStackDisks, type StackDisks } from '../support/stack-images.js';
import { expectFits, keys, startApp } from './helpers.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.skipIf(!canMakeDisks)(`converting a container in the app (${disksSkipReason})`, () => {
  let disks: StackDisks;
  let qcow2: string;
  let before: string;
  beforeAll(() => {
    disks = makeStackDisks(false);
    qcow2 = disks.convert('qcow2');
    before = sha(qcow2);
  }, 120_000);
  afterAll(() => disks?.cleanup());

  const engineWith = (runner: typeof convertToRaw) =>
    createTuiEngine({
      machine: new FakeMachine({ dmMajor: 250, nbd: false }),
      isRoot: true,
      cwd: disks.dir,
      backend: (_kind, m) => createDmBackend(m),
      convertToRaw: runner,
    });

  it('asks the path, checks the space, converts with progress and opens the raw copy', async () => {
    const percents: number[] = [];
    const t = startApp(
      engineWith((o) =>
        convertToRaw({
          ...o,
          onProgress: (p) => {
            percents.push(p);
            o.onProgress?.(p);
          },
        }),
      ),
      [qcow2],
    );
    await t.waitFor('ext4 "root"');
    expect(t.frame()).toContain('c convert to raw');
    await t.press('c', `Raw copy: ${join(disks.dir, 'disk.raw')}`);
    expectFits(t.frame());
    // The path is editable: `disk.raw` becomes `copy.raw`.
    for (let i = 0; i < 'disk.raw'.length; i++) await t.press(keys.backspace);
    await t.press('copy.raw', `Raw copy: ${join(disks.dir, 'copy.raw')}`);
    await t.press(keys.enter, /✓ [\d.]+ MiB free for a raw copy of 64\.0 MiB \(written sparse\)/);
    expect(t.frame()).toContain('Enter converts');
    await t.press(keys.enter, `kpartx-tui · ${join(disks.dir, 'copy.raw')}`);
    await t.waitFor('ext4 "root"');
    const frame = t.frame();
    expect(frame).not.toContain('qcow2 image');
    expect(frame).toContain('gpt table');
    expect(frame).toContain(`Converted to ${join(disks.dir, 'copy.raw')}`);
    // qemu-img's own -p output fed the bar, up to the end.
    expect(percents.length).toBeGreaterThan(0);
    expect(percents.at(-1)).toBe(100);
    expect(readFileSync(join(disks.dir, 'copy.raw')).equals(readFileSync(disks.raw))).toBe(true);
    expect(existsSync(join(disks.dir, 'copy.raw.part'))).toBe(false);
    expect(sha(qcow2)).toBe(before);
    t.app.unmount();
  });

  it('refuses a target that exists, before anything runs', async () => {
    const taken = join(disks.dir, 'taken.raw');
    writeFileSync(taken, 'mine');
    let ran = false;
    const t = startApp(
      engineWith(async () => {
        ran = true;
      }),
      [qcow2],
    );
    await t.waitFor('ext4 "root"');
    await t.press('c', 'Raw copy:');
    for (let i = 0; i < 'disk.raw'.length; i++) await t.press(keys.backspace);
    await t.press('taken.raw');
    await t.press(keys.enter, `${taken} exists; not overwriting it (name another path)`);
    expect(ran).toBe(false);
    expect(readFileSync(taken, 'utf8')).toBe('mine');
    t.app.unmount();
  });

  for (const [how, key] of [
    ['Esc', keys.escape],
    ['Ctrl-C', keys.ctrlC],
  ] as const) {
    it(`${how} during the conversion stops it: the runner is aborted and no part file stays`, async () => {
      let seen: ConvertOptions | undefined;
      // A runner that writes its part file like qemu-img and holds until it is told to stop.
      const held = (o: ConvertOptions) =>
        new Promise<void>((_resolve, reject) => {
          seen = o;
          const part = `${o.target}.part`;
          writeFileSync(part, 'partial');
          o.onProgress?.(37);
          o.signal?.addEventListener('abort', () => {
            // What convertToRaw does on abort.
            rmSync(part, { force: true });
            reject(new Error(`conversion stopped; ${part} removed`));
          });
        });
      const t = startApp(engineWith(held), [qcow2]);
      await t.waitFor('ext4 "root"');
      await t.press('c', 'Raw copy:');
      await t.press(keys.enter, 'free for a raw copy');
      await t.press(keys.enter, /\[█+░+\] +37%/);
      expect(t.frame()).toContain('stop and remove the part-written copy');
      await t.press(key, 'conversion stopped');
      expect(seen?.signal?.aborted).toBe(true);
      expect(existsSync(`${seen!.target}.part`)).toBe(false);
      expect(existsSync(seen!.target)).toBe(false);
      expect(sha(qcow2)).toBe(before);
      // The app stays, on the conversion screen, with the path to change or leave.
      await t.press(keys.escape, 'Raw copy:');
      await t.press(keys.escape, 'ext4 "root"');
      t.app.unmount();
    });
  }
});
