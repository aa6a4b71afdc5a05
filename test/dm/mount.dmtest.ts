/**
 * `kpartx-tui mount`/`umount` on real device-mapper (the QEMU guest): the partition is a dm linear
 * map, mounted read-only on a read-only map; umount removes the map and the loop this mount
 * attached; a map made before (by kpartx -a) and its loop stay.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  boundLoops,
  dmTables,
  inGuest,
  ours,
  resetGuest,
  run,
  sfdiskImage,
  skipReason,
  workDir,
} from './guest.js';

const KPARTX_TUI = path.resolve(import.meta.dirname, '../../bin/kpartx-tui.js');
const tui = (...args: string[]) => run(process.execPath, [KPARTX_TUI, ...args]);

/** A two-partition image whose partition 1 is ext4 holding hello.txt. */
function ext4Image(): string {
  const image = sfdiskImage('mount', 32, 'label: dos\n2048,16384,83\n18432,16384,83\n');
  const content = `${image}.p1`;
  fs.mkdirSync(content, { recursive: true });
  fs.writeFileSync(path.join(content, 'hello.txt'), 'hello through dm\n');
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, '-E', `offset=${2048 * 512}`, image, '8192k']);
  return image;
}

describe.skipIf(!inGuest)(`kpartx-tui mount/umount on device-mapper (${skipReason})`, () => {
  const runDir = path.join(workDir, 'mount-run');
  beforeAll(() => {
    process.env.KPARTX_TUI_RUN_DIR = runDir;
    resetGuest();
  });
  afterEach(() => {
    for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const target = line.split(' ')[1];
      if (target?.startsWith(`${workDir}/`)) run('umount', [target]);
    }
    resetGuest();
  });
  afterAll(() => resetGuest());

  it('maps :1 as a dm map, mounts it read-only, and umount leaves nothing', () => {
    const image = ext4Image();
    const mounted = tui('mount', `${image}:1`, '--json');
    expect(mounted.stderr).toBe('');
    expect(mounted.status).toBe(0);
    const result = JSON.parse(mounted.stdout);
    expect(result).toMatchObject({ backend: 'dm', readOnly: true, fstype: 'ext4', partition: 1 });
    expect([...dmTables().keys()]).toEqual([result.maps[0]]);
    expect(fs.readFileSync(path.join(result.mountpoint, 'hello.txt'), 'utf8')).toBe('hello through dm\n');
    expect(run('blockdev', ['--getro', result.device]).stdout.trim()).toBe('1');
    const umounted = tui('umount', result.mountpoint);
    expect(umounted.status).toBe(0);
    expect(dmTables().size).toBe(0);
    expect(boundLoops()).toEqual([]);
  });

  it('a map and loop made before by kpartx -a stay after umount', () => {
    const image = ext4Image();
    expect(ours('-a', image).status).toBe(0);
    const before = [...dmTables().keys()].sort();
    const mounted = tui('mount', `${image}:1`, '--json');
    expect(mounted.status).toBe(0);
    const result = JSON.parse(mounted.stdout);
    expect(result.maps).toEqual([]);
    expect(result.loop).toBeNull();
    expect(tui('umount', image).status).toBe(0);
    expect([...dmTables().keys()].sort()).toEqual(before);
    // The map it found writable was made read-only for the mount, and is writable again.
    expect(run('blockdev', ['--getro', result.device]).stdout.trim()).toBe('0');
    expect(boundLoops()).toHaveLength(1);
    expect(ours('-d', image).status).toBe(0);
  });

  it('SIGTERM right after start leaves nothing behind', async () => {
    const image = ext4Image();
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [KPARTX_TUI, 'mount', `${image}:1`], { stdio: 'ignore' });
    setTimeout(() => child.kill('SIGTERM'), 300);
    const status = await new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    // Either the signal came before the work started (killed by default) or it was taken back (143).
    expect([null, 0, 143]).toContain(status);
    if (status === 0) expect(tui('umount', image).status).toBe(0);
    expect(dmTables().size).toBe(0);
    expect(boundLoops()).toEqual([]);
  });
});
