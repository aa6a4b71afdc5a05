/**
 * A sparse 64 MiB image with a DOS table of four primaries (the reference's T01): what a
 * `kpartx -l` typically meets. The listing bench times it; the build lists it to make the CLI's
 * code cache.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';

export function writeListingImage(path) {
  const mbr = Buffer.alloc(512);
  const entries = [
    [2048, 16384],
    [18432, 16384],
    [34816, 16384],
    [51200, 79872],
  ];
  entries.forEach(([start, count], i) => {
    mbr[446 + i * 16 + 4] = 0x83;
    mbr.writeUInt32LE(start, 446 + i * 16 + 8);
    mbr.writeUInt32LE(count, 446 + i * 16 + 12);
  });
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, 64 * 1024 * 1024);
    writeSync(fd, mbr, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
}
