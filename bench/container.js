#!/usr/bin/env node
/**
 * Reading a 20 GiB qcow2 image with a GPT and five filesystems the way `--json` reads a raw disk:
 * open the container, read the partition table through it, probe each partition's content. It
 * prints the wall time of that (median of repeated runs, page cache warm) and how many bytes were
 * read from the image file, against the targets of under 150 ms and under 2 MiB.
 *
 * `--json` does not open containers yet, so this calls the reader, the table readers and the
 * probes directly (from dist/), as the engine will; Node's own start-up (about 100 ms here) is
 * printed beside it for comparison but not counted.
 *
 * Usage: npm run build && node bench/container.js [--runs 30] [--keep DIR]
 * Needs qemu-img, sgdisk and mkfs.ext4/xfs/btrfs/vfat (mkfs.ntfs or mkfs.exfat for the fifth).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
if (!existsSync(join(dist, 'probe', 'index.js'))) {
  console.error('bench: build first (npm run build)');
  process.exit(1);
}
const { nodeFiles, openContainer, probeContent } = await import(join(dist, 'probe', 'index.js'));
const { readPartitionTable } = await import(join(dist, 'engine', 'tables', 'index.js'));

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}
const RUNS = Number(option('runs', 30));
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

  /** nodeFiles, counting every read of every file the container opens. */
  const counted = { reads: 0, bytes: 0 };
  const files = {
    identity: nodeFiles.identity,
    open(path) {
      const file = nodeFiles.open(path);
      return Object.assign(Object.create(file), {
        readAt(offset, length) {
          const bytes = file.readAt(offset, length);
          counted.reads++;
          counted.bytes += bytes.length;
          return bytes;
        },
        readInto(into, offset) {
          const n = file.readInto(into, offset);
          counted.reads++;
          counted.bytes += n;
          return n;
        },
      });
    },
  };

  const look = () => {
    const c = openContainer(image, { files });
    try {
      const table = readPartitionTable(c.disk);
      const contents = table.slots
        .filter((s) => s.size > 0)
        .map((s) => probeContent(c.disk, s.start * 512, s.size * 512));
      return { table, contents };
    } finally {
      c.close();
    }
  };

  const first = look();
  const summary = first.contents.map((c) => `${c?.type}${c?.label ? ` "${c.label}"` : ''}`).join(', ');
  console.log(
    `image: ${(statSync(image).size / MiB).toFixed(1)} MiB qcow2 file, 20 GiB disk, ${first.table.type} with ${summary}`,
  );
  const times = [];
  let reads = 0;
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    counted.reads = 0;
    counted.bytes = 0;
    const start = performance.now();
    look();
    times.push(performance.now() - start);
    reads = counted.reads;
    bytes = counted.bytes;
  }
  times.sort((a, b) => a - b);
  const median = times[times.length >> 1];
  console.log(
    `open + partition table + content of ${first.contents.length} partitions, ${RUNS} runs: median ${median.toFixed(1)} ms (min ${times[0].toFixed(1)}, max ${times[times.length - 1].toFixed(1)})`,
  );
  console.log(`read from the image file: ${reads} reads, ${(bytes / 1024).toFixed(1)} KiB`);
  const starts = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    starts.push(performance.now() - start);
  }
  console.log(`(for comparison, node -e 0: ${Math.min(...starts).toFixed(0)} ms at best of 5)`);
  const pass = median < 150 && bytes < 2 * MiB;
  console.log(`target: under 150 ms and under 2 MiB read  ${pass ? 'PASS' : 'FAIL'}`);
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}
