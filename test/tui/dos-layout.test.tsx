/**
 * A DOS table as it is on the disk: the extended partition with its whole extent on the bar and in
 * its row (its 1 KiB map in the preview), logical partitions drawn inside it and listed under it,
 * and its map never offered for mounting.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { barSegments } from '../../src/tui/bar.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { expectFits, keys, startApp } from './helpers.js';
import { dosImage, stampExt4 } from './images.js';

const IMAGE = '/img/dos.img';
let scratch: string;
let kernel: FakeMachine;

/** p1 primary, p2 extended (2048..43007) holding p5 and p6, p3 a primary after it. */
function dosWithTrailingPrimary(): Uint8Array {
  const image = dosImage(
    65536,
    [
      { type: 0x83, start: 2048, size: 8192 },
      { type: 0x05, start: 10240, size: 32768 },
      { type: 0x83, start: 43008, size: 8192 },
    ],
    [
      { type: 0x83, start: 12288, size: 8192 },
      { type: 0x83, start: 22528, size: 8192 },
    ],
  );
  stampExt4(image, 2048, 'one');
  stampExt4(image, 12288, 'five');
  stampExt4(image, 43008, 'three');
  return image;
}

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kpartx-tui-dos-'));
  kernel = new FakeMachine({ dmMajor: 250 });
  kernel.addFile(IMAGE, dosWithTrailingPrimary());
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

describe('a DOS layout', () => {
  it('shows the extended extent, logicals under it, and offers only filesystems to mount', async () => {
    const t = startApp(engine(), [IMAGE]);
    await t.waitFor('ext4 "three"');
    const frame = t.frame();
    const rows = frame
      .split('\n')
      .filter((l) => /^[ ❯]*└?\d +\d+ +\d+ +\d+/.test(l.trimStart()) || /^\s*└?\d\s/.test(l));
    // Logicals straight under their extended parent, before the primary that follows it.
    expect(rows.map((l) => /(└?\d) /.exec(l.trim())?.[1])).toEqual(['1', '2', '└5', '└6', '3']);
    // The extended row: its extent, 32768 sectors (16 MiB), not its 2-sector map.
    expect(frame).toMatch(/2 +10240 +43007 +32768 +16 MiB +Extended/);
    // The preview still shows the map of 1 KiB it gets.
    expect(frame).toContain('0 2 linear 7:0 10240');
    expectFits(frame);
    await t.press('ay', /created and confirmed/);
    await t.press(keys.enter, 'dos table');
    await t.press('m', 'Mount read-only');
    const picker = t.frame();
    expect(picker).toMatch(/❯ loop0p1/);
    expect(picker).not.toMatch(/loop0p2 +\/dev\/mapper/);
    expect(picker).toMatch(/loop0p5/);
    expect(picker).toContain('loop0p2 — extended partition');
    t.app.unmount();
  });

  it('paints the logicals on the bar, not free space', () => {
    const parts = [
      { number: 1, start: 2048, size: 8192, container: 0, kind: 'primary' as const, typeName: '', flags: [] },
      {
        number: 2,
        start: 10240,
        size: 2,
        extent: 32768,
        container: 0,
        kind: 'extended' as const,
        typeName: '',
        flags: [],
      },
      {
        number: 3,
        start: 43008,
        size: 8192,
        container: 0,
        kind: 'primary' as const,
        typeName: '',
        flags: [],
      },
      {
        number: 5,
        start: 12288,
        size: 8192,
        container: 2,
        kind: 'logical' as const,
        typeName: '',
        flags: [],
      },
      {
        number: 6,
        start: 22528,
        size: 8192,
        container: 2,
        kind: 'logical' as const,
        typeName: '',
        flags: [],
      },
    ];
    const segments = barSegments(parts, 65536, 64);
    expect(segments.map((s) => s.number)).toEqual([0, 1, 5, 6, 0, 3, 0]);
    // Logical 5 takes its boot record's gap: 10240..20479 of 65536 is 10240 sectors, about 10 cells.
    expect(segments.find((s) => s.number === 5)?.cells).toBe(10);
    expect(segments.reduce((n, s) => n + s.cells, 0)).toBe(64);
  });
});
