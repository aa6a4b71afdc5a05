#!/usr/bin/env node
/**
 * Benchmarks of the listing paths, run on this machine:
 *
 *   (a) `kpartx -l IMAGE` wall time: ours, the C kpartx, and a bare `node -e 0`, as paired runs
 *       (each round runs all three back to back, so machine noise hits them alike).
 *       Target: ours within 1.15x of `node -e 0`.
 *   (b) one `kpartx-tui --json` over N images (default 1000) against a shell loop running the C
 *       `kpartx -l` once per image, after one untimed `--json` run so that every contender finds
 *       the images in the page cache. Target: at least 20x faster.
 *
 * Usage: npm run build && node bench/list.js [--runs 30] [--images 1000]
 * Needs root and loop devices for the C tool (it attaches a loop for every -l); without
 * /usr/sbin/kpartx the C columns are skipped.
 *
 * Wall time is what users feel but swings with machine load; the CPU time of each child (user +
 * system, from /proc/self/stat after it is reaped) is printed next to it as the steadier figure.
 * When the single-file build dist/cli/kpartx.cjs exists (scripts/bundle-cli.mjs) it is measured
 * too, through a two-line CommonJS launcher that requires it plainly: bin/kpartx.js runs the same
 * bundle from the build's V8 code cache (bin/code-cache.js), so the two rows show what the cache saves.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeListingImage } from '../scripts/listing-image.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const OURS = join(root, 'bin', 'kpartx.js');
const TUI = join(root, 'bin', 'kpartx-tui.js');
const BUNDLE = join(root, 'dist', 'cli', 'kpartx.cjs');
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

/** CPU time (ms) of all reaped children so far: cutime + cstime of /proc/self/stat. */
function childrenCpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of stat(5), counted from the state field (3) after the command name.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}

function timed(command, args) {
  const cpuBefore = childrenCpuMs();
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return { ms, cpu: childrenCpuMs() - cpuBefore, stdout: result.stdout.toString() };
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
  writeListingImage(image);
  const ours = timed(process.execPath, [OURS, '-l', image]).stdout;
  if (haveC) {
    const c = timed(C_KPARTX, ['-l', image]).stdout;
    if (c !== ours) throw new Error(`outputs differ:\nC:\n${c}\nours:\n${ours}`);
  }
  const launcher = join(work, 'kpartx-bundled.cjs');
  const haveBundle = existsSync(BUNDLE);
  if (haveBundle) {
    writeFileSync(
      launcher,
      `require(${JSON.stringify(BUNDLE)}).main(process.argv.slice(1)).then((s) => { process.exitCode = s; });\n`,
    );
  }
  const contenders = [
    ['node -e 0', process.execPath, ['-e', '0']],
    ['ours, bin/kpartx.js', process.execPath, [OURS, '-l', image]],
    ...(haveBundle ? [['ours, kpartx.cjs, no cache', process.execPath, [launcher, '-l', image]]] : []),
    ...(haveC ? [['C kpartx -l', C_KPARTX, ['-l', image]]] : []),
  ];
  const samples = contenders.map(() => ({ wall: [], cpu: [] }));
  // One warm-up round so the page cache holds node, the modules and the image.
  for (const [, command, args] of contenders) timed(command, args);
  for (let i = 0; i < RUNS; i++) {
    contenders.forEach(([, command, args], k) => {
      const { ms, cpu } = timed(command, args);
      samples[k].wall.push(ms);
      samples[k].cpu.push(cpu);
    });
  }
  const total = (values) => values.reduce((a, b) => a + b, 0);
  const nodeWall = median(samples[0].wall);
  const nodeCpu = total(samples[0].cpu);
  console.log(`(a) kpartx -l IMAGE, ${RUNS} paired runs: median wall time, and total CPU time`);
  let best = Number.POSITIVE_INFINITY;
  contenders.forEach(([label], k) => {
    const wall = median(samples[k].wall);
    const cpu = total(samples[k].cpu);
    const ratio =
      k === 0 ? '' : `  = ${(wall / nodeWall).toFixed(3)}x wall, ${(cpu / nodeCpu).toFixed(3)}x CPU`;
    console.log(`    ${label.padEnd(28)} ${fmt(wall).padStart(10)}  cpu ${fmt(cpu).padStart(10)}${ratio}`);
    if (label.startsWith('ours')) best = Math.min(best, wall / nodeWall);
  });
  console.log(
    `    best of ours ${best.toFixed(3)}x node -e 0 (target <= 1.15x)  ${best <= 1.15 ? 'PASS' : 'FAIL'}`,
  );

  // ---- (b) batch
  const images = [];
  for (let i = 0; i < IMAGES; i++) {
    const path = join(work, `img${i}.img`);
    writeListingImage(path);
    images.push(path);
  }
  // One untimed run first: the images were just written, and whichever run came first would also
  // pay for the kernel's first look at 1000 new files and every page it reads of them.
  timed(process.execPath, [TUI, '--json', ...images]);
  const batch = timed(process.execPath, [TUI, '--json', ...images]);
  const batchNoProbe = timed(process.execPath, [TUI, '--json', '--no-probe', ...images]);
  const document = JSON.parse(batch.stdout);
  const listed = document.sources.filter((s) => s.error === null && s.partitions.length === 4).length;
  console.log(`(b) ${IMAGES} images`);
  console.log(
    `    kpartx-tui --json (one run)       ${fmt(batch.ms)}  cpu ${fmt(batch.cpu)}  (${listed}/${IMAGES} listed)`,
  );
  console.log(`    kpartx-tui --json --no-probe      ${fmt(batchNoProbe.ms)}  cpu ${fmt(batchNoProbe.cpu)}`);
  if (haveC) {
    const loop = timed('/bin/sh', [
      '-c',
      `for f in "$@"; do ${C_KPARTX} -l "$f" >/dev/null 2>&1 || exit 1; done`,
      'sh',
      ...images,
    ]);
    const speedup = loop.ms / batch.ms;
    console.log(`    shell loop of C kpartx -l         ${fmt(loop.ms)}  cpu ${fmt(loop.cpu)}`);
    console.log(`    speed-up ${speedup.toFixed(1)}x (target >= 20x)  ${speedup >= 20 ? 'PASS' : 'FAIL'}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
