/**
 * qcow2 overlay files made and committed by the real `qemu-img` (package qemu-utils), run with
 * execFile (no shell). The overlay path is first created exclusively (O_EXCL, mode 0600), so an
 * existing file, or a symlink planted there, is never written through; qemu-img then writes its
 * header into that file. The backing image is named by its absolute path with its format given,
 * so qemu never probes it and finds it wherever the overlay is moved to.
 */
import { closeSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { lazyBuiltin } from '../io/builtin.js';
import { findQemuNbd } from './nbd.js';
import { findTool } from './qemu-img.js';
import type { OverlayApi } from './types.js';

// Loaded when a tool is first run: the CLI's listing loads this module too, and child_process pulls
// in Node's streams and sockets.
const childProcess = lazyBuiltin<typeof import('node:child_process')>('node:child_process');

const findQemuImg = (): string => findTool('qemu-img', 'qemu-utils');

function run(tool: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // No timeout: a commit copies every cluster the overlay holds.
    childProcess().execFile(tool, args, { maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const said = String(stderr).trim().split('\n').filter(Boolean).pop();
      reject(new Error(`qemu-img ${args[0]} failed: ${said ?? error.message}`));
    });
  });
}

export function createOverlayApi(): OverlayApi {
  return {
    missingTool() {
      try {
        findQemuImg();
        findQemuNbd();
        return undefined;
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    },
    exists: (path) => lstatSync(path, { throwIfNoEntry: false }) !== undefined,
    async create(overlay, backing, backingFormat) {
      const tool = findQemuImg();
      closeSync(openSync(overlay, 'wx', 0o600));
      try {
        await run(tool, ['create', '-q', '-f', 'qcow2', '-F', backingFormat, '-b', backing, overlay]);
      } catch (error) {
        unlinkSync(overlay);
        throw error;
      }
    },
    async commit(overlay) {
      // -d: the overlay is deleted next, so emptying it would be wasted work.
      await run(findQemuImg(), ['commit', '-q', '-f', 'qcow2', '-d', overlay]);
    },
    remove(overlay) {
      const st = lstatSync(overlay);
      if (!st.isFile()) throw new Error(`${overlay} is not a regular file; not removing it`);
      unlinkSync(overlay);
    },
  };
}
