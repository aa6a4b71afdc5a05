#!/usr/bin/env node
/**
 * `kpartx-tui --json` on a 20 GiB qcow2 image with a GPT and five filesystems, as a user runs it:
 * the whole process, timed against a bare `node -e 0` in paired runs (each round runs both, so
 * machine noise hits them alike), and the reads it makes from the image file, counted in one run
 * with bench/count-reads.cjs preloaded. Targets: under 150 ms of the tool's own time (the process
 * less Node's start) and under 2 MiB read.
 *
 * It also times the listing's work alone in this process (open the container, read the partition
 * table through it, probe each partition: `openContainer`, `readPartitionTable`, `probeContent`
 * from dist/, as the engine calls them), which is what is left once Node and the code are loaded.
 *
 * The image: a sparse 20 GiB raw disk given a GPT by sgdisk, whose first and last MiB are joined
 * with five filesystems made by mkfs in sparse files of their own (no root, no loop, no mount) by
 * `qemu-img convert -O qcow2`, which skips their holes: a few seconds; `--keep DIR` keeps it.
 *
 * Usage: npm run build && node bench/container.js [--runs 20] [--keep DIR]
 * Needs qemu-img, sgdisk and mkfs.ext4/xfs/btrfs/vfat (mkfs.ntfs or mkfs.exfat for the fifth).
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
if (!existsSync(join(dist, 'probe', 'index.js'))) {
  console.error('bench: build first (npm run build)');
  process.exit(1);
}
const { openContainer, probeContent } = await import(join(dist, 'probe', 'index.js'));
const { readPartitionTable } = await import(join(dist, 'engine', 'tables', 'index.js'));

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}
const RUNS = Number(option('runs', 20));
const keep = option('keep', undefined);

const have = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
function run(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${r.stderr || r.error}`);
}

const MiB = 1024 * 1024;
const fifth = have('mkfs.ntfs')
  ? ['ntfs', 'mkfs.ntfs', ['-q', '-F', '-Q', '-L', 'win']]
  : ['exfat', 'mkfs.exfat', ['-L', 'data']];
// Four partitions of 4 GiB and one a little smaller, back to back from 1 MiB, so that the image is
// the GPT's first MiB, the five filesystems and the last MiB (backup GPT), concatenated.
const PARTS = [
  ['ext4', 'mkfs.ext4', ['-q', '-F', '-L', 'root'], 4096, '8300'],
  ['xfs', 'mkfs.xfs', ['-q', '-f', '-L', 'srv'], 4096, '8300'],
  ['btrfs', 'mkfs.btrfs', ['-q', '-f', '-L', 'pool'], 4096, '8300'],
  ['vfat', 'mkfs.vfat', ['-n', 'EFI'], 4096, 'ef00'],
  [fifth[0], fifth[1], fifth[2], 4094, '0700'],
];
const missing = ['qemu-img', 'sgdisk', ...PARTS.map((p) => p[1])].filter((t) => !have(t));
if (missing.length) {
  console.error(`bench: missing ${missing.join(', ')}`);
  process.exit(1);
}

const work = keep ?? mkdtempSync(join(tmpdir(), 'kpartx-bench-container-'));
mkdirSync(work, { recursive: true });
const image = join(work, 'vm-20g.qcow2');
try {
  if (!existsSync(image)) {
    const built = performance.now();
    const gpt = join(work, 'gpt.raw');
    writeFileSync(gpt, '');
    truncateSync(gpt, 20 * 1024 * MiB);
    let start = 2048;
    const layout = [];
    PARTS.forEach(([, , , mib, code], i) => {
      const sectors = mib * 2048;
      layout.push(`-n${i + 1}:${start}:${start + sectors - 1}`, `-t${i + 1}:${code}`);
      start += sectors;
    });
    run('sgdisk', [...layout, gpt]);
    run('dd', [`if=${gpt}`, `of=${join(work, 'head.raw')}`, 'bs=1M', 'count=1', 'status=none']);
    run('dd', [`if=${gpt}`, `of=${join(work, 'tail.raw')}`, 'bs=1M', `skip=${20 * 1024 - 1}`, 'status=none']);
    rmSync(gpt);
    const pieces = [join(work, 'head.raw')];
    for (const [name, tool, args, mib] of PARTS) {
      const fs = join(work, `${name}.fs`);
      writeFileSync(fs, '');
      truncateSync(fs, mib * MiB);
      run(tool, [...args, fs]);
      pieces.push(fs);
    }
    pieces.push(join(work, 'tail.raw'));
    // qemu-img concatenates its inputs, skipping their holes.
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', ...pieces, image]);
    for (const piece of pieces) rmSync(piece);
    console.log(`built ${image} in ${((performance.now() - built) / 1000).toFixed(1)} s`);
  }

  const TUI = join(root, 'bin', 'kpartx-tui.js');
  const counter = join(root, 'bench', 'count-reads.cjs');

  /** CPU time (ms) of all reaped children so far: cutime + cstime of /proc/self/stat. */
  const childrenCpuMs = () => {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
  };
  const timed = (args, env = process.env) => {
    const cpu = childrenCpuMs();
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', env, maxBuffer: 1 << 26 });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return { ms, cpu: childrenCpuMs() - cpu, stdout: r.stdout };
  };
  const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

  // What the user sees, and what it read.
  const countFile = join(work, 'reads.json');
  const counted = timed([`--require=${counter}`, TUI, '--json', image], {
    ...process.env,
    COUNT_READS_DIR: work,
    COUNT_READS_OUT: countFile,
  });
  const source = JSON.parse(counted.stdout).sources[0];
  const summary = source.partitions
    .map(({ content: c }) => `${c?.type}${c?.label ? ` "${c.label}"` : ''}`)
    .join(', ');
  console.log(
    `image: ${(statSync(image).size / MiB).toFixed(1)} MiB ${source.container?.format} file, ${(source.container?.virtualSize ?? 0) / 1024 / MiB} GiB disk, ${source.table?.type} with ${summary}`,
  );
  const { reads, bytes, ms: clock } = JSON.parse(readFileSync(countFile, 'utf8'));

  // The whole process against Node's own start, paired rounds after one warm-up each.
  const contenders = [
    ['node -e 0', ['-e', '0']],
    ['kpartx-tui --json IMAGE', [TUI, '--json', image]],
  ];
  const samples = contenders.map(() => ({ wall: [], cpu: [] }));
  for (const [, args] of contenders) timed(args);
  for (let i = 0; i < RUNS; i++) {
    contenders.forEach(([, args], k) => {
      const { ms, cpu } = timed(args);
      samples[k].wall.push(ms);
      samples[k].cpu.push(cpu);
    });
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`${RUNS} paired runs, median wall and CPU per run (load average ${load}):`);
  contenders.forEach(([label], k) => {
    const wall = median(samples[k].wall);
    const cpu = samples[k].cpu.reduce((a, b) => a + b, 0) / RUNS;
    console.log(
      `    ${label.padEnd(26)} wall ${wall.toFixed(0).padStart(5)} ms   CPU ${cpu.toFixed(0).padStart(5)} ms`,
    );
  });
  const own = median(samples[1].wall.map((ms, i) => ms - samples[0].wall[i]));
  const ownCpu =
    (samples[1].cpu.reduce((a, b) => a + b, 0) - samples[0].cpu.reduce((a, b) => a + b, 0)) / RUNS;
  console.log(
    `    the tool's own time (run less node -e 0): wall ${own.toFixed(0)} ms (median of pairs), CPU ${ownCpu.toFixed(0)} ms`,
  );
  console.log(
    `read from the image file: ${reads} reads, ${(bytes / 1024).toFixed(1)} KiB (one run; its clock at exit ${clock.toFixed(0)} ms)`,
  );

  // The listing's work alone, in this process, with the code loaded and the page cache warm.
  const look = () => {
    const c = openContainer(image);
    try {
      const table = readPartitionTable(c.disk);
      for (const s of table.slots) if (s.size > 0) probeContent(c.disk, s.start * 512, s.size * 512);
    } finally {
      c.close();
    }
  };
  look();
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    look();
    times.push(performance.now() - start);
  }
  console.log(`in this process, open + table + 5 probes: median ${median(times).toFixed(1)} ms`);
  const pass = own < 150 && bytes < 2 * MiB;
  console.log(`target: under 150 ms of its own and under 2 MiB read  ${pass ? 'PASS' : 'FAIL'}`);
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}
