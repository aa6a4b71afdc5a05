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
  /** Read all of `out` from `offset` (fewer bytes only at the end of the file); returns the count. */
  const fill = (out: Uint8Array, offset: number): number => {
    let done = 0;
    while (done < out.length) {
      let got: number;
      try {
        got = readSync(fd, out, done, out.length - done, offset + done);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
        throw Object.assign(new Error(`${path}: read failed at byte ${offset + done}: ${code}`), { code });
      }
      if (got <= 0) break;
      done += got;
    }
    return done;
  };
  return {
    path,
    size,
    sectorSize,
    readAt(offset, length) {
      if (offset < 0 || offset >= size || length <= 0) return new Uint8Array(0);
      const out = new Uint8Array(Math.min(length, size - offset));
      const done = fill(out, offset);
      return done === out.length ? out : out.subarray(0, done);
    },
    readInto(into, offset) {
      if (offset < 0 || offset >= size) return 0;
      return fill(into.length > size - offset ? into.subarray(0, size - offset) : into, offset);
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

/**
 * A Disk that serves small reads from whole 4 KiB pages it keeps: content probes ask for many
 * small windows (512 bytes at 0, 1 KiB and 1.5 KiB, 10 bytes at 4086…) and a third of them fall in
 * a page already read. Larger reads pass straight through.
 */
export function pageCachedDisk<T extends Disk>(disk: T, maxPages = 256): T {
  const PAGE = 4096;
  const pages = new Map<number, Uint8Array>();
  const readAt = (offset: number, length: number): Uint8Array => {
    const page = Math.floor(offset / PAGE);
    if (offset < 0 || length <= 0 || page !== Math.floor((offset + length - 1) / PAGE)) {
      return disk.readAt(offset, length);
    }
    let data = pages.get(page);
    if (!data) {
      data = disk.readAt(page * PAGE, PAGE);
      if (pages.size >= maxPages) pages.clear();
      pages.set(page, data);
    }
    const from = offset - page * PAGE;
    return data.subarray(from, Math.min(data.length, from + length));
  };
  return Object.assign(Object.create(disk) as T, { readAt });
}
