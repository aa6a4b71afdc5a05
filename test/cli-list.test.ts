import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { usageText } from '../src/cli/usage.js';
import { mbrImage, runCli, T01_LINES, t01 } from './cli-helpers.js';
import { FakeMachine } from './support/fake-machine.js';

const lines = (text: string) => text.split('\n').filter((l) => l !== '');
const work = mkdtempSync(join(tmpdir(), 'kpartx-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function kernelWith(file = '/img/t01.img', bytes = t01()) {
  const kernel = new FakeMachine();
  kernel.addFile(file, bytes);
  return kernel;
}

describe('kpartx usage and option errors', () => {
  it('prints usage on stdout with status 1 when there are no arguments', async () => {
    const run = await runCli([]);
    expect(run).toEqual({ status: 1, stdout: usageText(), stderr: '' });
  });

  it('names the program like glibc for an invalid option, then prints usage', async () => {
    const run = await runCli(['-x', 'disk.img'], { kernel: kernelWith() });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe("kpartx: invalid option -- 'x'\n");
    expect(run.stdout).toBe(usageText());
    const other = await runCli(['-h'], { kernel: kernelWith(), argv0: '/usr/lib/kpartx-tui/bin/kpartx.js' });
    expect(other.stderr).toBe("kpartx: invalid option -- 'h'\n");
  });

  it('reports a missing option argument', async () => {
    const run = await runCli(['-l', '/img/t01.img', '-p'], { kernel: kernelWith() });
    expect(run).toMatchObject({ status: 1, stderr: "kpartx: option requires an argument -- 'p'\n" });
  });

  it('prints usage for zero or three operands, and ignores a second one', async () => {
    const kernel = kernelWith();
    expect(await runCli(['-l'], { kernel })).toMatchObject({ status: 1, stdout: usageText() });
    expect(await runCli(['-l', 'a', 'b', 'c'], { kernel })).toMatchObject({ status: 1, stdout: usageText() });
    const two = await runCli(['-l', '/img/t01.img', '/ignored/second/arg'], { kernel });
    expect(lines(two.stdout)).toEqual(T01_LINES);
  });

  it('rejects an unknown backend', async () => {
    const run = await runCli(['--backend', 'zfs', '-a', '/img/t01.img'], { kernel: kernelWith() });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe("kpartx: invalid backend 'zfs': use dm or loop\n");
  });
});

describe('kpartx -l on an image', () => {
  it('lists by default, with the loop -a would use, and attaches nothing', async () => {
    const kernel = kernelWith();
    const run = await runCli(['/img/t01.img'], { kernel });
    expect(run).toEqual({ status: 0, stdout: `${T01_LINES.join('\n')}\n`, stderr: '' });
    expect(kernel.calls).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
  });

  it('takes options after the operand, and the last action wins', async () => {
    const kernel = kernelWith();
    expect(lines((await runCli(['/img/t01.img', '-l'], { kernel })).stdout)).toEqual(T01_LINES);
    expect(lines((await runCli(['-a', '-l', '/img/t01.img'], { kernel })).stdout)).toEqual(T01_LINES);
    expect(kernel.calls).toEqual([]);
  });

  it('treats everything after the first operand as operands under POSIXLY_CORRECT', async () => {
    const kernel = kernelWith();
    const run = await runCli(['/img/t01.img', '-a'], { kernel, env: { POSIXLY_CORRECT: '1' } });
    // `-a` became the ignored second operand: still a listing, nothing attached.
    expect(lines(run.stdout)).toEqual(T01_LINES);
    expect(kernel.calls).toEqual([]);
  });

  it('predicts the next free loop and reuses one already bound to the image', async () => {
    const kernel = kernelWith();
    kernel.addFile('/img/other.img', t01());
    kernel.loop.attach('/img/other.img', { readOnly: false });
    const predicted = await runCli(['-l', '/img/t01.img'], { kernel });
    expect(lines(predicted.stdout)[0]).toBe('loop1p1 : 0 16384 /dev/loop1 2048');
    kernel.loop.attach('/img/other.img', { readOnly: false });
    kernel.loop.attach('/img/t01.img', { readOnly: false });
    const found = await runCli(['-lv', '/img/t01.img'], { kernel });
    expect(lines(found.stdout)[3]).toBe('loop2p4 : 0 79872 /dev/loop2 51200');
    // A loop that was already bound is not let go.
    expect(found.stderr).toBe('');
    expect(kernel.loop.list().map((l) => l.path)).toEqual(['/dev/loop0', '/dev/loop1', '/dev/loop2']);
  });

  it('says "loop deleted" with -v like the C tool, which attaches and detaches a loop for -l', async () => {
    const run = await runCli(['-lv', '/img/t01.img'], { kernel: kernelWith() });
    expect(run.stderr).toBe('loop deleted : /dev/loop0\n');
  });

  it('applies -p, including an empty delimiter and one starting with -', async () => {
    const kernel = kernelWith();
    expect(lines((await runCli(['-l', '-p', '-part', '/img/t01.img'], { kernel })).stdout)[0]).toBe(
      'loop0-part1 : 0 16384 /dev/loop0 2048',
    );
    expect(lines((await runCli(['-lp', '', '/img/t01.img'], { kernel })).stdout)[1]).toBe(
      'loop02 : 0 16384 /dev/loop0 18432',
    );
    expect(lines((await runCli(['-l', '-p/', '/img/t01.img'], { kernel })).stdout)[0]).toBe(
      'loop0/1 : 0 16384 /dev/loop0 2048',
    );
  });

  it('prints nothing for an image without a table, and honours -t', async () => {
    const kernel = kernelWith('/img/zero.img', new Uint8Array(16 * 1024 * 1024));
    kernel.addFile('/img/t01.img', t01());
    expect(await runCli(['-l', '/img/zero.img'], { kernel })).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(await runCli(['-l', '-t', 'bsd', '/img/t01.img'], { kernel })).toEqual({
      status: 0,
      stdout: '',
      stderr: '',
    });
    expect(await runCli(['-l', '-t', 'nosuchtype', '/img/t01.img'], { kernel })).toMatchObject({
      stdout: '',
    });
    expect(lines((await runCli(['-l', '-t', 'dos', '/img/t01.img'], { kernel })).stdout)).toEqual(T01_LINES);
  });

  it('lists logical partitions on /dev/dm-K after the others', async () => {
    const image = mbrImage(131072, [
      [0x83, 2048, 16384],
      [0x05, 18432, 112640],
    ]);
    // One EBR at the extended start: a logical at +2048, no link.
    image.set(mbrImage(1, [[0x83, 2048, 16384]]), 18432 * 512);
    const kernel = kernelWith('/img/ext.img', image);
    const run = await runCli(['-l', '/img/ext.img'], { kernel });
    expect(lines(run.stdout)).toEqual([
      'loop0p1 : 0 16384 /dev/loop0 2048',
      'loop0p2 : 0 2 /dev/loop0 18432',
      'loop0p5 : 0 16384 /dev/dm-1 2048',
    ]);
  });

  it('still lists a partition past the end of the image but warns about it on stderr', async () => {
    const image = mbrImage(24576, [
      [0x83, 2048, 16384],
      [0x83, 18432, 16384],
    ]);
    const run = await runCli(['-l', '/img/cut.img'], { kernel: kernelWith('/img/cut.img', image) });
    expect(run.status).toBe(0);
    expect(lines(run.stdout)).toEqual([
      'loop0p1 : 0 16384 /dev/loop0 2048',
      'loop0p2 : 0 16384 /dev/loop0 18432',
    ]);
    expect(run.stderr).toBe(
      'warning: loop0p2: partition 2 (sectors 18432-34815) ends past the end of /dev/loop0 (24576 sectors)\n',
    );
  });
});

describe('kpartx operand errors', () => {
  it('says failed to stat() on stdout', async () => {
    const run = await runCli(['-l', '/nonexistent.img'], { kernel: new FakeMachine() });
    expect(run).toEqual({ status: 1, stdout: 'failed to stat() /nonexistent.img\n', stderr: '' });
  });

  it('refuses a directory and a character device', async () => {
    expect(await runCli(['-l', work], { kernel: new FakeMachine() })).toEqual({
      status: 1,
      stdout: '',
      stderr: `invalid device: ${work}\n`,
    });
    expect(await runCli(['-l', '/dev/null'], { kernel: new FakeMachine() })).toMatchObject({
      stderr: 'invalid device: /dev/null\n',
    });
  });

  it('names the device on an I/O error and exits 1', async () => {
    const kernel = new FakeMachine();
    kernel.addDisk('/dev/sdz', t01());
    kernel.failOn('read', { device: '/dev/sdz' });
    expect(await runCli(['-l', '/dev/sdz'], { kernel })).toEqual({
      status: 1,
      stdout: '',
      stderr: '/dev/sdz: read failed: Input/output error\n',
    });
  });

  it('reads real files through the real file system', async () => {
    const path = join(work, 'real.img');
    writeFileSync(path, t01());
    const run = await runCli(['-l', path], { kernel: new FakeMachine() });
    expect(lines(run.stdout)).toEqual(T01_LINES);
  });
});

describe('kpartx -l on block devices', () => {
  it('uses the operand as typed and its last component as the name', async () => {
    const kernel = new FakeMachine();
    kernel.addDisk('/dev/disk/by-id/wwn-0x5000c500a1b2c3d4', t01());
    kernel.addDisk('/tmp/kp/mydisk0', t01(), { devno: { major: 8, minor: 32 } });
    const byId = await runCli(['-l', '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4'], { kernel });
    expect(lines(byId.stdout)[0]).toBe(
      'wwn-0x5000c500a1b2c3d4p1 : 0 16384 /dev/disk/by-id/wwn-0x5000c500a1b2c3d4 2048',
    );
    const digit = await runCli(['-l', '-p', '_', '/tmp/kp/mydisk0'], { kernel });
    expect(lines(digit.stdout)[3]).toBe('mydisk0_4 : 0 79872 /tmp/kp/mydisk0 51200');
  });

  it('names partitions of a device-mapper device after its dm name', async () => {
    const kernel = new FakeMachine();
    kernel.addDisk('/dev/sdq', t01(), { devno: { major: 65, minor: 0 } });
    kernel.seedMap('mpatha', 'mpath-3600abc', [
      { start: 0, length: 131072, type: 'linear', params: '65:0 0' },
    ]);
    const run = await runCli(['-l', '/dev/dm-0'], { kernel });
    expect(lines(run.stdout)).toEqual([
      'mpatha1 : 0 16384 /dev/dm-0 2048',
      'mpatha2 : 0 16384 /dev/dm-0 18432',
      'mpatha3 : 0 16384 /dev/dm-0 34816',
      'mpatha4 : 0 79872 /dev/dm-0 51200',
    ]);
  });

  it('reads a 4096-byte-sector device with its sector size', async () => {
    const kernel = new FakeMachine();
    const image = mbrImage(131072, [[0x83, 256, 2048]]);
    kernel.addFile('/img/4k.img', image);
    const loop = kernel.loop.attach('/img/4k.img', { readOnly: true, blockSize: 4096 });
    const run = await runCli(['-l', loop.path], { kernel });
    expect(lines(run.stdout)).toEqual(['loop0p1 : 0 16384 /dev/loop0 2048']);
    const viaFile = await runCli(['-l', '/img/4k.img'], { kernel });
    expect(viaFile.stdout).toBe(run.stdout);
  });
});
