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
    expect(await nodes.removed('loop0p2', { sync: false })).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('removal does not wait when the node is already gone', async () => {
    expect(await nodes.removed('absent', { sync: true })).toBeUndefined();
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

describe('/dev/mapper nodes without udev', () => {
  it('never unlinks something that is not a block node', () => {
    const file = path.join(dir, 'regular');
    fs.writeFileSync(file, 'keep me');
    dropNode(dir, 'regular');
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  });
});
