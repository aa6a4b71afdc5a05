#!/usr/bin/env node
/**
 * Content probing alone, in one process: the four partitions of N images like bench/list.js's
 * (64 MiB, sparse, nothing inside the partitions, so every prober runs to the end), read the way
 * `--json` reads them. It prints the reads per partition and the process's CPU time per 1000
 * images (user and system), which varies far less with machine load than wall time.
 *
 * Usage: npm run build && node bench/probe.js [--images 1000] [--runs 7]
 */
import { closeSync, fstatSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { probeContent } = await import(join(root, 'dist', 'probe', 'index.js'));
const { fileDisk, pageCachedDisk } = await import(join(root, 'dist', 'io', 'file-disk.js'));

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}
const IMAGES = option('images', 1000);
const RUNS = option('runs', 7);
const PARTS = [
  [2048, 16384],
  [18432, 16384],
  [34816, 16384],
  [51200, 79872],
];

const work = mkdtempSync(join(tmpdir(), 'kpartx-bench-probe-'));
try {
  const mbr = Buffer.alloc(512);
  PARTS.forEach(([start, count], i) => {
    mbr[446 + i * 16 + 4] = 0x83;
    mbr.writeUInt32LE(start, 446 + i * 16 + 8);
    mbr.writeUInt32LE(count, 446 + i * 16 + 12);
  });
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const images = [];
  for (let i = 0; i < IMAGES; i++) {
    const path = join(work, `img${i}.img`);
    const fd = openSync(path, 'w');
    ftruncateSync(fd, 64 * 1024 * 1024);
    writeSync(fd, mbr, 0, 512, 0);
    closeSync(fd);
    images.push(path);
  }

  let reads = 0;
  const probeAll = () => {
    const start = process.cpuUsage();
    reads = 0;
    for (const path of images) {
      const fd = openSync(path, 'r');
      const file = fileDisk(fd, path, fstatSync(fd).size, 512);
      // Count what reaches the file: readAt (through the page cache, as --json reads) and readInto.
      const counted = Object.assign(Object.create(file), {
        readAt: (offset, length) => {
          reads++;
          return file.readAt(offset, length);
        },
        readInto: (into, offset) => {
          reads++;
          return file.readInto(into, offset);
        },
      });
      const disk = pageCachedDisk(counted);
      for (const [s, c] of PARTS) probeContent(disk, s * 512, c * 512);
      closeSync(fd);
    }
    const used = process.cpuUsage(start);
    return { user: used.user / 1000, system: used.system / 1000 };
  };

  probeAll(); // the first run fills the page cache
  const samples = [];
  for (let i = 0; i < RUNS; i++) samples.push(probeAll());
  samples.sort((a, b) => a.user + a.system - (b.user + b.system));
  const median = samples[samples.length >> 1];
  const per1000 = (ms) => ((ms * 1000) / IMAGES).toFixed(0);
  console.log(`${IMAGES} images, 4 partitions each, ${RUNS} runs after one to fill the page cache`);
  console.log(`reads per partition: ${(reads / (IMAGES * PARTS.length)).toFixed(1)}`);
  console.log(
    `CPU per 1000 images (median run): ${per1000(median.user + median.system)} ms (user ${per1000(median.user)}, system ${per1000(median.system)})`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
