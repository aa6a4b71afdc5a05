/**
 * `qemu-img convert -p -O raw` run for real (package qemu-utils), with execFile's sibling spawn (no
 * shell) and the format given from the probe. The copy is written to `<target>.part` and renamed
 * when complete, so a failure, a kill or a signal never leaves a half-written file at the target;
 * the part file is removed on failure. The original is opened read-only by qemu-img.
 */
import { accessSync, constants, lstatSync, renameSync, statfsSync, statSync, unlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { lazyBuiltin } from '../io/builtin.js';

// Loaded when a tool is first run: the CLI's listing loads this module too, and child_process pulls
// in Node's streams and sockets.
const childProcess = lazyBuiltin<typeof import('node:child_process')>('node:child_process');

/** Where `tool` is on PATH; an Error naming the Debian package when it is not there. */
export function findTool(tool: string, pkg: string, path = process.env.PATH ?? ''): string {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next directory
    }
  }
  throw new Error(`${tool} not found on PATH: install it (Debian/Ubuntu: apt install ${pkg})`);
}

/** Every percentage in a chunk of `qemu-img convert -p` output (`    (42.00/100%)\r`), in order. */
export function progressValues(chunk: string): number[] {
  return [...chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/gu)].map((m) => Number(m[1]));
}

/** Bytes free to an unprivileged writer in the file system holding `dir`. */
export function freeBytes(dir: string): number {
  const st = statfsSync(dir);
  return Number(st.bavail) * Number(st.bsize);
}

/** The host's answers to a conversion's questions (engine/convert.ts ConvertFs). */
export const hostConvertFs = {
  exists: (path: string): boolean => lstatSync(path, { throwIfNoEntry: false }) !== undefined,
  allocatedBytes: (file: string): number => statSync(file).blocks * 512,
  freeBytes,
};

export interface ConvertOptions {
  source: string;
  /** qemu's name of the source's format (never guessed). */
  format: string;
  target: string;
  onProgress?: (percent: number) => void;
  /** Aborting kills qemu-img and removes the part file. */
  signal?: AbortSignal;
}

export function convertToRaw(options: ConvertOptions): Promise<void> {
  const tool = findTool('qemu-img', 'qemu-utils');
  const part = `${options.target}.part`;
  const args = ['convert', '-p', '-f', options.format, '-O', 'raw', options.source, part];
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      for (const percent of progressValues(chunk)) options.onProgress?.(percent);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const abort = () => child.kill('SIGTERM');
    options.signal?.addEventListener('abort', abort, { once: true });
    const dropPart = () => {
      try {
        unlinkSync(part);
      } catch {
        // never made
      }
    };
    child.on('error', (error) => {
      options.signal?.removeEventListener('abort', abort);
      dropPart();
      reject(error);
    });
    child.on('close', (code, signal) => {
      options.signal?.removeEventListener('abort', abort);
      if (code === 0) {
        try {
          renameSync(part, options.target);
        } catch (error) {
          dropPart();
          return reject(error);
        }
        return resolve();
      }
      dropPart();
      const said = stderr.trim().split('\n').filter(Boolean).pop();
      reject(
        new Error(
          options.signal?.aborted
            ? `conversion stopped; ${part} removed`
            : `qemu-img convert failed${signal ? ` (${signal})` : ''}: ${said ?? `exit status ${code}`}`,
        ),
      );
    });
  });
}
