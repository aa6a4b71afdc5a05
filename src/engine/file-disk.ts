/**
 * A Disk over an open file descriptor (an image file or a block device node), read with plain
 * positional reads. The caller says how large the device is: an image is seen the way a loop
 * device would show it (whole 512-byte sectors only), a block device by its kernel-reported size.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { Disk } from './disk.js';

export interface FileDisk extends Disk {
  readonly path: string;
  close(): void;
}

export function fileDisk(fd: number, path: string, size: number, sectorSize: number): FileDisk {
  let open = true;
  return {
    path,
    size,
    sectorSize,
    readAt(offset, length) {
      if (offset < 0 || offset >= size || length <= 0) return new Uint8Array(0);
      const wanted = Math.min(length, size - offset);
      const out = new Uint8Array(wanted);
      let done = 0;
      while (done < wanted) {
        const got = readSync(fd, out, done, wanted - done, offset + done);
        if (got <= 0) break;
        done += got;
      }
      return done === wanted ? out : out.subarray(0, done);
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** Open `path` read-only as a Disk of `size` bytes. Throws the fs error (with its code) on failure. */
export function openFileDisk(path: string, size: number, sectorSize: number): FileDisk {
  return fileDisk(openSync(path, 'r'), path, size, sectorSize);
}
