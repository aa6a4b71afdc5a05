#!/usr/bin/env node
/**
 * Benchmarks of the listing paths, run on this machine:
 *
 *   (a) `kpartx -l IMAGE` wall time: ours, the C kpartx, and a bare `node -e 0`, as paired runs
 *       (each round runs all three back to back, so machine noise hits them alike).
 *       Target: ours within 1.15x of `node -e 0`.
 *   (b) one `kpartx-tui --json` over N images (default 1000) against a shell loop running the C
 *       `kpartx -l` once per image. Target: at least 20x faster.
 *
 * Usage: npm run build && node bench/list.js [--runs 30] [--images 1000]
 * Needs root and loop devices for the C tool (it attaches a loop for every -l); without
 * /usr/sbin/kpartx the C columns are skipped.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const OURS = join(root, 'bin', 'kpartx.js');
const TUI = join(root, 'bin', 'kpartx-tui.js');
const C_KPARTX = '/usr/sbin/kpartx';

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}
const RUNS = option('runs', 30);
const IMAGES = option('images', 1000);

if (!existsSync(join(root, 'dist', 'cli', 'kpartx.js'))) {
  console.error('bench: build first (npm run build)');
  process.exit(1);
}
const haveC = existsSync(C_KPARTX);

/** A sparse 64 MiB image with a DOS table of four primaries (the reference's T01). */
function writeImage(path) {
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

function timed(command, args) {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return { ms, stdout: result.stdout.toString() };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (ms) => `${ms.toFixed(1)} ms`;

const work = mkdtempSync(join(tmpdir(), 'kpartx-bench-'));
try {
  // ---- (a) single listing, paired runs
  const image = join(work, 'disk.img');
  writeImage(image);
  const ours = timed(process.execPath, [OURS, '-l', image]).stdout;
  if (haveC) {
    const c = timed(C_KPARTX, ['-l', image]).stdout;
    if (c !== ours) throw new Error(`outputs differ:\nC:\n${c}\nours:\n${ours}`);
  }
  const samples = { node: [], ours: [], c: [] };
  // One warm-up round so the page cache holds node, the modules and the image.
  timed(process.execPath, ['-e', '0']);
  timed(process.execPath, [OURS, '-l', image]);
  for (let i = 0; i < RUNS; i++) {
    samples.node.push(timed(process.execPath, ['-e', '0']).ms);
    samples.ours.push(timed(process.execPath, [OURS, '-l', image]).ms);
    if (haveC) samples.c.push(timed(C_KPARTX, ['-l', image]).ms);
  }
  const nodeMs = median(samples.node);
  const oursMs = median(samples.ours);
  const ratio = oursMs / nodeMs;
  console.log(`(a) kpartx -l IMAGE, median of ${RUNS} paired runs`);
  console.log(`    node -e 0         ${fmt(nodeMs)}`);
  console.log(`    ours (kpartx -l)  ${fmt(oursMs)}   = ${ratio.toFixed(3)}x node -e 0 (target <= 1.15x)`);
  if (haveC) console.log(`    C kpartx -l       ${fmt(median(samples.c))}`);
  console.log(`    ${ratio <= 1.15 ? 'PASS' : 'FAIL'}`);

  // ---- (b) batch
  const images = [];
  for (let i = 0; i < IMAGES; i++) {
    const path = join(work, `img${i}.img`);
    writeImage(path);
    images.push(path);
  }
  const batch = timed(process.execPath, [TUI, '--json', ...images]);
  const document = JSON.parse(batch.stdout);
  const listed = document.sources.filter((s) => s.error === null && s.partitions.length === 4).length;
  console.log(`(b) ${IMAGES} images`);
  console.log(`    kpartx-tui --json (one run)       ${fmt(batch.ms)}  (${listed}/${IMAGES} listed)`);
  if (haveC) {
    const loop = timed('/bin/sh', [
      '-c',
      `for f in "$@"; do ${C_KPARTX} -l "$f" >/dev/null 2>&1 || exit 1; done`,
      'sh',
      ...images,
    ]);
    const speedup = loop.ms / batch.ms;
    console.log(`    shell loop of C kpartx -l         ${fmt(loop.ms)}`);
    console.log(`    speed-up ${speedup.toFixed(1)}x (target >= 20x)  ${speedup >= 20 ? 'PASS' : 'FAIL'}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
