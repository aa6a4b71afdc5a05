import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLock, acquireLockAsync, lockKey } from '../src/kernel/lock.js';
import { KernelError } from '../src/kernel/types.js';

describe('per-device lock', () => {
  const dir = mkdtempSync('/tmp/kpartx-tui-lock-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keys an image by its inode and a device by its number', () => {
    const image = join(dir, 'disk.img');
    writeFileSync(image, 'x');
    const devno = { major: 7, minor: 3 };
    expect(lockKey({ devno })).toBe('dev-7-3');
    expect(lockKey({ devno, image: { file: image } })).toMatch(/^file-\d+-\d+$/);
    // The image key does not depend on which loop the run attached.
    expect(lockKey({ devno: { major: 7, minor: 9 }, image: { file: image } })).toBe(
      lockKey({ devno, image: { file: image } }),
    );
  });

  it('makes a second taker wait, then fail naming the device', () => {
    const first = acquireLock('dev-7-3', '/dev/loop3', 1000, dir);
    const started = Date.now();
    let caught: unknown;
    try {
      acquireLock('dev-7-3', '/dev/loop3', 150, dir);
    } catch (error) {
      caught = error;
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(caught).toBeInstanceOf(KernelError);
    expect((caught as KernelError).message).toMatch(
      /^\/dev\/loop3: another kpartx run is changing this device's maps/,
    );
    first.release();
    // Released: the next taker gets it at once; another key was never blocked.
    const other = acquireLock('dev-7-4', '/dev/loop4', 0, dir);
    const again = acquireLock('dev-7-3', '/dev/loop3', 0, dir);
    again.release();
    other.release();
  });

  it('waits without blocking the event loop, and takes the lock once it is released', async () => {
    const first = acquireLock('dev-7-6', '/dev/loop6', 0, dir);
    // Only a turning event loop runs this timer: a blocking wait would time out instead.
    setTimeout(() => first.release(), 100);
    const started = Date.now();
    const second = await acquireLockAsync('dev-7-6', '/dev/loop6', 2000, dir);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(Date.now() - started).toBeLessThan(1500);
    second.release();
    const held = acquireLock('dev-7-6', '/dev/loop6', 0, dir);
    await expect(acquireLockAsync('dev-7-6', '/dev/loop6', 100, dir)).rejects.toThrow(
      /^\/dev\/loop6: another kpartx run is changing this device's maps/,
    );
    held.release();
  });

  it('removes its file on release, and a waiter on the removed file moves to the new one', async () => {
    const path = join(dir, 'dev-7-7.lock');
    const first = acquireLock('dev-7-7', '/dev/loop7', 0, dir);
    expect(existsSync(path)).toBe(true);
    // The waiter has the file open before the holder releases and unlinks it.
    const waiting = acquireLockAsync('dev-7-7', '/dev/loop7', 2000, dir);
    setTimeout(() => first.release(), 60);
    const second = await waiting;
    // It holds the file now at the path, not the unlinked one: a third run is kept out.
    expect(existsSync(path)).toBe(true);
    expect(() => acquireLock('dev-7-7', '/dev/loop7', 0, dir)).toThrow(/another kpartx run/);
    second.release();
    expect(readdirSync(dir).filter((name) => name.startsWith('dev-7-7'))).toEqual([]);
    second.release(); // twice is harmless
  });

  it('is freed by the kernel when the holder dies', async () => {
    const register = join(import.meta.dirname, 'ts-register.mjs');
    const code = [
      `import { acquireLock } from ${JSON.stringify(join(import.meta.dirname, '../src/kernel/lock.ts'))};`,
      `acquireLock('dev-7-5', 'x', 0, ${JSON.stringify(dir)});`,
      `process.stdout.write('locked\\n');`,
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const script = join(dir, 'holder.ts');
    writeFileSync(script, code);
    const child = spawn(process.execPath, ['--import', register, script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((done) => child.stdout.once('data', () => done()));
    expect(() => acquireLock('dev-7-5', 'x', 50, dir)).toThrow(/another kpartx run/);
    child.kill('SIGKILL');
    await new Promise((done) => child.once('exit', done));
    acquireLock('dev-7-5', 'x', 0, dir).release();
  });
});
