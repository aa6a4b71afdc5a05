import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDevNodes, dropNode } from '../src/kernel/devnodes.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kpartx-devnodes-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('/dev/mapper nodes with udev running', () => {
  const nodes = createDevNodes({ dir, waitMs: 150, udev: () => true });

  it('-s waits for udev, but only so long, and says what is missing', async () => {
    const started = Date.now();
    const problem = await nodes.created('loop0p1', { major: 254, minor: 0 }, { sync: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(problem).toBe(`${dir}/loop0p1: udev did not create the node within 0.15 s`);
  });

  it('-n leaves the node to udev and returns at once', async () => {
    const started = Date.now();
    expect(await nodes.created('loop0p2', { major: 254, minor: 1 }, { sync: false })).toBeUndefined();
    expect(await nodes.removed('loop0p2', { major: 254, minor: 1 }, { sync: false })).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('removal does not wait when the node is already gone', async () => {
    expect(await nodes.removed('absent', { major: 254, minor: 9 }, { sync: true })).toBeUndefined();
  });

  it('waits without blocking: two maps wait for their nodes side by side', async () => {
    const started = Date.now();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const problems = await Promise.all([
      nodes.created('loop0p3', { major: 254, minor: 2 }, { sync: true }),
      nodes.created('loop0p4', { major: 254, minor: 3 }, { sync: true }),
    ]);
    clearInterval(ticker);
    expect(problems.every((p) => p?.includes('udev did not create the node'))).toBe(true);
    // One wait's worth, not two, and the event loop kept turning meanwhile.
    expect(Date.now() - started).toBeLessThan(290);
    expect(ticks).toBeGreaterThan(3);
  });
});

const root = process.getuid?.() === 0;

describe('/dev/mapper nodes without udev', () => {
  const nodes = createDevNodes({ dir, udev: () => false });
  const P1 = { major: 254, minor: 40 };
  const OTHER = { major: 254, minor: 41 };

  it('never unlinks something that is not a block node', () => {
    const file = path.join(dir, 'regular');
    fs.writeFileSync(file, 'keep me');
    expect(dropNode(dir, 'regular', P1)).toBe(
      `${file} is a regular file, not this map's device node; left in place`,
    );
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('refuses to put a node where a regular file, a directory or a foreign symlink is', async () => {
    const entries: [string, () => void, string][] = [
      ['file', () => fs.writeFileSync(path.join(dir, 'file'), 'data'), 'a regular file'],
      ['dir', () => fs.mkdirSync(path.join(dir, 'dir')), 'a directory'],
      [
        'link',
        () => fs.symlinkSync('/etc/hostname', path.join(dir, 'link')),
        'a symbolic link to /etc/hostname',
      ],
    ];
    for (const [name, make, what] of entries) {
      make();
      const refusal = `${dir}/${name} exists and is ${what}, not a device node; not replacing it`;
      expect(nodes.blocker(name)).toBe(refusal);
      expect(await nodes.created(name, P1, { sync: true })).toBe(refusal);
      expect(await nodes.renamed('somewhere', name, P1, { sync: true })).toBe(refusal);
      // Still there, untouched.
      expect(fs.lstatSync(path.join(dir, name)).isBlockDevice()).toBe(false);
      expect(await nodes.removed(name, P1, { sync: true })).toMatch(
        /not this map's device node; left in place$/,
      );
      expect(fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false })).toBeDefined();
    }
    expect(fs.readFileSync(path.join(dir, 'file'), 'utf8')).toBe('data');
    expect(nodes.blocker('free')).toBeUndefined();
  });

  it.skipIf(!root)(
    'replaces a stale block node, removes only the node of the map that went (root)',
    async () => {
      expect(await nodes.created('p1', OTHER, { sync: true })).toBeUndefined();
      expect(nodes.blocker('p1')).toBeUndefined();
      // A stale node of another device is replaced by the map's own.
      expect(await nodes.created('p1', P1, { sync: true })).toBeUndefined();
      const st = fs.statSync(path.join(dir, 'p1'));
      expect([st.isBlockDevice(), st.rdev]).toEqual([true, (254 << 8) | 40]);
      // Removing another map's node leaves this one.
      expect(await nodes.removed('p1', OTHER, { sync: true })).toBe(
        `${dir}/p1 is the node of another device (254:40); left in place`,
      );
      expect(fs.existsSync(path.join(dir, 'p1'))).toBe(true);
      expect(await nodes.removed('p1', P1, { sync: true })).toBeUndefined();
      expect(fs.existsSync(path.join(dir, 'p1'))).toBe(false);
    },
  );

  it.skipIf(!root)("accepts a symlink to exactly the map's device, as udev makes them (root)", async () => {
    expect(await nodes.created('real', P1, { sync: true })).toBeUndefined();
    fs.symlinkSync('real', path.join(dir, 'alias'));
    expect(nodes.blocker('alias', P1)).toBeUndefined();
    expect(nodes.blocker('alias', OTHER)).toMatch(/is a symbolic link to real, not a device node/);
    expect(await nodes.created('alias', P1, { sync: true })).toBeUndefined();
    expect(fs.lstatSync(path.join(dir, 'alias')).isSymbolicLink()).toBe(true);
    fs.rmSync(path.join(dir, 'alias'));
    fs.rmSync(path.join(dir, 'real'));
  });
});
