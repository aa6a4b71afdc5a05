/**
 * What earlier runs left on real device-mapper, as the app finds and cleans it up: maps made by
 * our CLI or by the C kpartx, mounted; and maps made with the loop backend on a kernel where the
 * app's own choice is device-mapper. The app's engine adapter, over the real kernel.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createTuiEngine } from '../../src/tui/engine.js';
import { DEFAULT_OPTIONS, type ProgressEvent } from '../../src/tui/model.js';
import {
  guestState,
  inGuest,
  ours,
  resetGuest,
  run,
  sfdiskImage,
  sh,
  skipReason,
  theirs,
  workDir,
} from './guest.js';

const TWO_PARTS = 'label: dos\n2048,16384\n18432,16384\n';

/** A two-partition image whose first partition holds ext4. */
function imageWithExt4(name: string): string {
  const img = sfdiskImage(name, 32, TWO_PARTS);
  sh('mkfs.ext4', '-q', '-F', '-E', `offset=${2048 * 512}`, img, '8M');
  return img;
}

const mountRoot = path.join(workDir, 'run-mnt');
const engine = () => createTuiEngine({ mountRoot, cwd: workDir });

function mountedUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((target) => target.startsWith(`${dir}/`));
}

describe.skipIf(!inGuest)(`the app cleans up what earlier runs left (${skipReason})`, () => {
  beforeEach(() => {
    for (const target of mountedUnder(workDir).reverse()) run('umount', [target]);
    resetGuest();
  });
  afterAll(() => {
    for (const target of mountedUnder(workDir).reverse()) run('umount', [target]);
    resetGuest();
  });

  it('maps our CLI made, one mounted: shown, then unmounted, removed and the loop released', async () => {
    const img = imageWithExt4('ours');
    expect(ours('-a', img).status).toBe(0);
    const mnt = path.join(mountRoot, 'loop0p1');
    fs.mkdirSync(mnt, { recursive: true });
    sh('mount', '-o', 'ro', '/dev/mapper/loop0p1', mnt);

    const app = engine();
    const seen = await app.inspect(img, DEFAULT_OPTIONS);
    expect(seen.remains).toEqual({
      maps: ['loop0p1', 'loop0p2'],
      mounts: [{ map: 'loop0p1', mountpoint: mnt }],
      loop: { path: '/dev/loop0', ours: true },
      earlier: `2 maps, 1 mounted on ${mnt}`,
    });
    const events: ProgressEvent[] = [];
    const outcome = await app.tearDown(img, DEFAULT_OPTIONS, (e) => events.push(e));
    expect(outcome).toEqual({ ok: true, summary: '1 unmounted, 2 maps removed, loop released.' });
    expect(events.map((e) => `${e.type} ${e.name}`)).toEqual([
      'note unmount loop0p1',
      'removed loop0p1',
      'removed loop0p2',
      'note loop0',
    ]);
    expect(mountedUnder(workDir)).toEqual([]);
    expect(fs.existsSync(mnt)).toBe(false);
    expect(guestState()).toEqual({ tables: [], attrs: [], uuids: [], nodes: [], loops: [] });
    expect((await app.inspect(img, DEFAULT_OPTIONS)).remains).toBeUndefined();
  });

  it("the C kpartx's maps, mounted: taken down, its loop kept and why", async () => {
    const img = imageWithExt4('theirs');
    expect(theirs('-a', img).status).toBe(0);
    const mnt = path.join(workDir, 'mnt-c');
    fs.mkdirSync(mnt, { recursive: true });
    sh('mount', '/dev/mapper/loop0p1', mnt);

    const app = engine();
    const seen = await app.inspect(img, DEFAULT_OPTIONS);
    expect(seen.remains?.earlier).toBe(`2 maps, 1 mounted on ${mnt}`);
    expect(seen.remains?.loop).toEqual({ path: '/dev/loop0', ours: false });
    const events: ProgressEvent[] = [];
    const outcome = await app.tearDown(img, DEFAULT_OPTIONS, (e) => events.push(e));
    expect(outcome).toEqual({
      ok: false,
      summary: '1 unmounted, 2 maps removed; kept: /dev/loop0 (why: see above)',
    });
    expect(events.at(-1)).toEqual({
      type: 'kept',
      name: 'loop0',
      why: 'not attached by kpartx-tui (losetup -d /dev/loop0 releases it)',
    });
    // Not ours to remove: the mountpoint it did not make stays as a directory.
    expect(mountedUnder(workDir)).toEqual([]);
    expect(fs.existsSync(mnt)).toBe(true);
    expect(guestState()).toMatchObject({ tables: [], nodes: [], loops: [`/dev/loop0 ${img}`] });
  });

  it('loop-backend maps, mounted, are found and taken down where the app would use device-mapper', async () => {
    const img = imageWithExt4('loopback');
    const earlier = engine();
    const added = await earlier.add(img, { ...DEFAULT_OPTIONS, backend: 'loop' }, () => {});
    expect(added.ok).toBe(true);
    const mounted = await earlier.mount('/dev/mapper/loop0p1', { readOnly: true, exec: false });

    const app = engine();
    const seen = await app.inspect(img, DEFAULT_OPTIONS);
    expect(seen.preview.backend).toBe('dm');
    expect(seen.remains?.earlier).toBe(`2 maps, 1 mounted on ${mounted.mountpoint}`);
    const outcome = await app.tearDown(img, DEFAULT_OPTIONS, () => {});
    expect(outcome).toEqual({ ok: true, summary: '1 unmounted, 2 maps removed, loop released.' });
    expect(mountedUnder(workDir)).toEqual([]);
    expect(guestState()).toEqual({ tables: [], attrs: [], uuids: [], nodes: [], loops: [] });
    expect(fs.readdirSync('/dev/mapper')).toEqual(['control']);
  });
});
