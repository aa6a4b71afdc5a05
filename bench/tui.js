#!/usr/bin/env node
/**
 * kpartx-tui on a 128-partition GPT image, in a pseudo-terminal (script(1)):
 *   - start → layout frame: from spawning the binary until the terminal has received the app's
 *     first screen for the image, whole: title, table header, the first partition's row and the
 *     help line that ends the frame. (Also shown: start → first output, the one-line "opening…"
 *     notice printed before the app loads; it is not a frame of the app and has no target.)
 *   - keypress → next frame: ↓ in the partition table, time until the terminal receives output;
 *   - peak RSS of the app (VmHWM) after the key presses.
 * Targets: layout frame < 300 ms, keypress → frame < 50 ms, peak RSS < 150 MB.
 *
 * Usage: node bench/tui.js [--runs N] [--keys N] [--json]. Needs `npm run build` and sgdisk.
 * Browsing needs no root, so neither does this.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(repo, 'bin', 'kpartx-tui.js');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('--runs', 5);
const KEYS = arg('--keys', 30);
const TARGETS = { layoutFrameMs: 300, keyToFrameMs: 50, peakRssMb: 150 };
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences start with ESC
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]|\u001b[()][0-9A-Za-z]/g;
/**
 * The layout frame has arrived when, after the title line for the image, the terminal has the
 * table's header, partition 1's row (number, start, end) and the help line that closes the frame.
 */
function hasLayoutFrame(output) {
  const text = output.replace(ANSI, '');
  const title = text.indexOf('gpt table');
  if (title < 0) return false;
  const rest = text.slice(title);
  const row = rest.search(/\n\s*1\s+2048\s+4095\s/);
  return /#\s+Start\s+End\s+Sectors/.test(rest) && row > 0 && rest.indexOf('q quit', row) > 0;
}

function build128(dir) {
  const image = join(dir, 'gpt128.img');
  execFileSync('truncate', ['-s', '160M', image]);
  const args = [];
  for (let n = 1; n <= 128; n++) args.push(`-n${n}:0:+1M`, `-c${n}:part${n}`);
  execFileSync('sgdisk', [...args, image], { stdio: 'ignore' });
  return image;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

/** The node process under script(1) → sh: the first descendant whose command is node. */
function findNode(pid) {
  const queue = [pid];
  while (queue.length) {
    const current = queue.shift();
    try {
      const comm = readFileSync(`/proc/${current}/comm`, 'utf8').trim();
      if (comm === 'node' && current !== process.pid) return current;
      for (const task of execFileSync('ls', [`/proc/${current}/task`], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)) {
        const children = readFileSync(`/proc/${current}/task/${task}/children`, 'utf8').trim();
        if (children) queue.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // gone
    }
  }
  return undefined;
}

function peakRssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function oneRun(image, measureKeys) {
  const started = performance.now();
  const child = spawn('script', ['-qfec', `stty cols 80 rows 24; exec node ${bin} ${image}`, '/dev/null'], {
    env: { ...process.env, CI: 'false', TERM: 'xterm-256color', NO_COLOR: '' },
  });
  let output = '';
  let lastData = 0;
  let firstOutput;
  let layout;
  const waiters = [];
  child.stdout.on('data', (chunk) => {
    const now = performance.now();
    output += chunk.toString();
    lastData = now;
    firstOutput ??= now - started;
    if (layout === undefined && hasLayoutFrame(output)) layout = now - started;
    for (const w of waiters.splice(0)) w(now);
  });
  const nextData = () => new Promise((r) => waiters.push(r));
  const deadline = Date.now() + 30_000;
  while (layout === undefined && Date.now() < deadline) await sleep(5);
  if (layout === undefined) throw new Error(`no layout frame; output so far:\n${output.slice(-2000)}`);
  // Let the first burst (and the second render with the probed contents) finish.
  while (performance.now() - lastData < 300) await sleep(20);
  const keyTimes = [];
  let rss;
  if (measureKeys) {
    for (let i = 0; i < KEYS; i++) {
      const sent = performance.now();
      const got = nextData();
      child.stdin.write(i < KEYS / 2 ? '\u001b[B' : '\u001b[A');
      keyTimes.push((await got) - sent);
      // Quiet period so each measurement is independent of Ink's frame throttle.
      await sleep(60);
    }
    const node = findNode(child.pid);
    rss = node ? peakRssMb(node) : undefined;
  }
  child.stdin.write('q');
  await new Promise((r) => child.on('exit', r));
  return { firstOutput, layout, keyTimes, rss };
}

async function main() {
  if (!existsSync(join(repo, 'dist', 'tui', 'main.js'))) {
    console.error('bench/tui.js: run `npm run build` first');
    return 1;
  }
  const dir = mkdtempSync(join(tmpdir(), 'kpartx-tui-bench-'));
  try {
    const image = build128(dir);
    const firsts = [];
    const layouts = [];
    let keyTimes = [];
    let rss;
    for (let run = 0; run < RUNS; run++) {
      const result = await oneRun(image, run === RUNS - 1);
      firsts.push(result.firstOutput);
      layouts.push(result.layout);
      if (result.keyTimes.length) keyTimes = result.keyTimes;
      if (result.rss !== undefined) rss = result.rss;
    }
    const bundle = createRequire(import.meta.url)(join(repo, 'bin', 'build.js')).usableBundle('app');
    const report = {
      build: !bundle
        ? 'plain tsc output (run scripts/bundle-tui.mjs to bundle)'
        : existsSync(bundle.replace(/\.cjs$/, '.cache'))
          ? 'bundled with its code cache (scripts/bundle-tui.mjs)'
          : 'bundled, no code cache',
      machine: { cpus: cpus().length, load1: Number(loadavg()[0].toFixed(2)), node: process.version },
      image: '128-partition GPT, 160 MiB (sparse)',
      runs: RUNS,
      firstOutputMs: { median: Math.round(median(firsts)), min: Math.round(Math.min(...firsts)) },
      layoutFrameMs: { median: Math.round(median(layouts)), min: Math.round(Math.min(...layouts)) },
      keyToFrameMs: {
        median: Number(median(keyTimes).toFixed(1)),
        p95: Number(percentile(keyTimes, 0.95).toFixed(1)),
        samples: keyTimes.length,
      },
      peakRssMb: rss === undefined ? null : Number(rss.toFixed(1)),
    };
    const verdict = {
      layoutFrame: report.layoutFrameMs.median < TARGETS.layoutFrameMs,
      keyToFrame: report.keyToFrameMs.median < TARGETS.keyToFrameMs,
      peakRss: rss !== undefined && rss < TARGETS.peakRssMb,
    };
    if (process.argv.includes('--json'))
      console.log(JSON.stringify({ ...report, targets: TARGETS, verdict }, null, 2));
    else {
      const mark = (ok) => (ok ? 'ok  ' : 'MISS');
      console.log(
        `kpartx-tui bench (${report.image}; ${report.build}; ${report.runs} runs; ${report.machine.cpus} CPUs, load ${report.machine.load1})`,
      );
      console.log(
        `${mark(verdict.layoutFrame)} start → layout frame    ${report.layoutFrameMs.median} ms median (min ${report.layoutFrameMs.min}), target < ${TARGETS.layoutFrameMs}`,
      );
      console.log(
        `     start → first output    ${report.firstOutputMs.median} ms median (min ${report.firstOutputMs.min}), the "opening…" line before the app`,
      );
      console.log(
        `${mark(verdict.keyToFrame)} keypress → next frame  ${report.keyToFrameMs.median} ms median, p95 ${report.keyToFrameMs.p95}, target < ${TARGETS.keyToFrameMs}`,
      );
      console.log(
        `${mark(verdict.peakRss)} peak RSS               ${report.peakRssMb} MB, target < ${TARGETS.peakRssMb}`,
      );
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
