/**
 * What keeps `kpartx -l` close to a bare Node start: standard output written with write(2) (and
 * what happens when that cannot go on), and a listing that loads none of the built-ins only other
 * runs need.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeStandardOutput } from '../src/cli/kpartx.js';
import { T01_LINES, t01 } from './cli-helpers.js';

let work = '';
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kpartx-startup-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A FIFO in the work directory, opened with `flags`; its other ends are the caller's to open. */
function fifo(name: string): string {
  const path = join(work, name);
  execFileSync('mkfifo', [path]);
  return path;
}

/** All a non-blocking descriptor holds now. */
function drain(fd: number): Buffer {
  const chunks: Buffer[] = [];
  for (;;) {
    const chunk = Buffer.alloc(65536);
    let got: number;
    try {
      got = readSync(fd, chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw error;
    }
    if (got === 0) break;
    chunks.push(chunk.subarray(0, got));
  }
  return Buffer.concat(chunks);
}

describe('standard output', () => {
  it('hands what a non-blocking descriptor would not take to the waiting stream, nothing lost', () => {
    // Opened read-write, a FIFO has a reader (itself) that never reads: it takes one pipe buffer
    // (64 KiB), then the next write(2) fails with EAGAIN.
    const fd = openSync(fifo('full'), constants.O_RDWR | constants.O_NONBLOCK);
    const reader = openSync(join(work, 'full'), constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      // 100-byte lines of two-byte characters after one ASCII byte: the pipe's 65,536 bytes end
      // inside a character, which must reach the stream as the bytes it is.
      const text = `x${'é'.repeat(49)}\n`.repeat(3000);
      const rest: (string | Uint8Array)[] = [];
      writeStandardOutput(text, fd, () => (part) => rest.push(part));
      expect(rest).toHaveLength(1);
      const part = rest[0]!;
      const restBytes = typeof part === 'string' ? Buffer.from(part) : Buffer.from(part);
      expect(restBytes[0]! & 0xc0).toBe(0x80);
      const taken = drain(reader);
      expect(Buffer.concat([taken, restBytes]).toString()).toBe(text);
    } finally {
      closeSync(reader);
      closeSync(fd);
    }
  });

  it('ends quietly when the reader went away (EPIPE), as the stream did', () => {
    const path = fifo('gone');
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    closeSync(reader);
    try {
      const rest: (string | Uint8Array)[] = [];
      expect(() =>
        writeStandardOutput('loop0p1 : 0 16384 /dev/loop0 2048\n', fd, () => (part) => rest.push(part)),
      ).not.toThrow();
      expect(rest).toEqual([]);
    } finally {
      closeSync(fd);
    }
  });

  it('still fails loudly on a descriptor that is not open for writing', () => {
    const fd = openSync(join(work, 'read-only'), 'w+');
    closeSync(fd);
    const readOnly = openSync(join(work, 'read-only'), 'r');
    try {
      expect(() => writeStandardOutput('text\n', readOnly, () => () => {})).toThrow(/EBADF/);
    } finally {
      closeSync(readOnly);
    }
  });
});

const bin = join(import.meta.dirname, '..', 'bin', 'kpartx.js');

describe.skipIf(!existsSync(join(import.meta.dirname, '..', 'dist', 'cli', 'kpartx.js')))(
  'kpartx -l through bin/kpartx.js (skipped until the build has run)',
  () => {
    it('loads none of zlib, child_process, tty, os, or Node streams and sockets, writing to a pipe', () => {
      const image = join(work, 't01.img');
      writeFileSync(image, t01());
      const record = join(work, 'modules.json');
      const hook = join(work, 'modules.cjs');
      writeFileSync(
        hook,
        `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify(process.moduleLoadList)));\n`,
      );
      // stdin, stdout and stderr are all pipes, as in a shell's $(kpartx -l IMAGE).
      const run = spawnSync(process.execPath, ['--require', hook, bin, '-l', image], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout.split('\n').filter(Boolean)).toHaveLength(T01_LINES.length);
      const loaded = new Set(JSON.parse(readFileSync(record, 'utf8')) as string[]);
      const unwanted = ['zlib', 'child_process', 'tty', 'os', 'net', 'stream', 'dgram'].filter((name) =>
        loaded.has(`NativeModule ${name}`),
      );
      expect(unwanted).toEqual([]);
      // The same process still knows the modules when a run needs them: the hook saw Node's list.
      expect(loaded.has('NativeModule fs')).toBe(true);
    });
  },
);
