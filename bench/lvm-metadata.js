#!/usr/bin/env node
/**
 * Reading the metadata of a large LVM2 volume group: 500 LVs on one PV with a 1 MiB metadata
 * area, made by real lvm2. Target: under 20 ms to read it (label, header, area, text checksum,
 * parse, typed VG) and map every LV.
 *
 * Usage: npm run build && node bench/lvm-metadata.js [--runs 50] [--cold 9] [--lvs 500] [--keep PATH]
 * `--keep PATH` keeps the image made at PATH, and measures it again without making it when it exists.
 * Needs root, loop devices and lvm2 to make the image (lvm2 runs with --driverloaded n, so no
 * device-mapper: it writes the metadata only). The VG is made with pvcreate/vgcreate and one
 * lvcreate, then grown to N LVs through vgcfgbackup, an edit that adds LV sections written the way
 * lvm2 writes them, and vgcfgrestore; `vgs` then confirms lvm2 reads N LVs back. lvm2 gets a
 * private LVM_SYSTEM_DIR (no backups, archives or hints) and sees only the bench's loop device.
 *
 * Printed: the image's metadata geometry, then per-run times of
 *   - read:      readPhysicalVolume on a freshly opened image (label → typed VG),
 *   - assemble:  assembleVolumeGroups + mapLogicalVolume of every LV,
 * as the first call in a fresh node process (cold: nothing compiled yet, as in the CLI; median of
 * 9 processes) and as repeated calls in one process (warm: median and 95th percentile). Each is
 * given as wall time and as the CPU time of the main thread, which a busy machine disturbs less
 * (schedstat: precise to a scheduler tick, a few ms). For scale, V8's native JSON.parse of the same
 * VG written as JSON is timed the same way, cold.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const LVM_INDEX = join(root, 'dist', 'engine', 'lvm', 'index.js');
const FILE_DISK = join(root, 'dist', 'io', 'file-disk.js');

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}
const RUNS = option('runs', 50);
const LVS = option('lvs', 500);
const COLD = option('cold', 9);
const KEEP = process.argv.includes('--keep') ? process.argv[process.argv.indexOf('--keep') + 1] : null;

/**
 * CPU time of this thread in ms (Linux schedstat, nanoseconds): unlike wall time it leaves out the
 * time the thread waits for a core, and unlike process.cpuUsage() the compiler and GC threads.
 */
function threadCpu() {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

function warmClocks() {
  threadCpu();
  performance.now();
}

/** The measured part, also run alone in a child process for the cold figure. */
async function measure(image, runs) {
  const { readPhysicalVolume, assembleVolumeGroups, mapLogicalVolume } = await import(LVM_INDEX);
  const { openFileDisk } = await import(FILE_DISK);
  const size = statSync(image).size;
  // Both clocks are read once before timing: Node loads its perf_hooks modules on the first
  // performance.now() (2-7 ms of the main thread here), which is no part of reading LVM.
  warmClocks();
  const rows = [];
  for (let i = 0; i < runs; i++) {
    const disk = openFileDisk(image, size, 512);
    const c0 = threadCpu();
    const t0 = performance.now();
    const pv = readPhysicalVolume(disk);
    const t1 = performance.now();
    const c1 = threadCpu();
    const { volumeGroups } = assembleVolumeGroups([{ source: image, disk, pv }]);
    const vg = volumeGroups[0].metadata;
    let mapped = 0;
    for (const lv of vg.logicalVolumes) if (mapLogicalVolume(vg, lv.name).ok) mapped++;
    const t2 = performance.now();
    const c2 = threadCpu();
    disk.close();
    rows.push({
      read: t1 - t0,
      assemble: t2 - t1,
      readCpu: c1 - c0,
      assembleCpu: c2 - c1,
      lvs: vg.logicalVolumes.length,
      mapped,
    });
  }
  return rows;
}

if (process.argv[2] === '--json-child') {
  const json = readFileSync(process.argv[3], 'utf8');
  warmClocks();
  const c0 = threadCpu();
  const t0 = performance.now();
  JSON.parse(json);
  const t1 = performance.now();
  process.stdout.write(JSON.stringify({ wall: t1 - t0, cpu: threadCpu() - c0 }));
  process.exit(0);
}

if (process.argv[2] === '--child') {
  const [row] = await measure(process.argv[3], 1);
  process.stdout.write(JSON.stringify(row));
  process.exit(0);
}

if (!existsSync(LVM_INDEX)) {
  console.error('bench: build first (npm run build)');
  process.exit(1);
}
if (
  process.getuid?.() !== 0 ||
  !existsSync('/dev/loop-control') ||
  spawnSync('sh', ['-c', 'command -v lvm']).status !== 0
) {
  console.error('bench: needs root, /dev/loop-control and lvm2 to make the volume group');
  process.exit(1);
}

/** An lvm2 UUID: 32 characters of its alphabet in groups of 6-4-4-4-4-4-6. */
function lvmUuid() {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let id = '';
  for (let i = 0; i < 32; i++) id += alphabet[Math.floor(Math.random() * alphabet.length)];
  const groups = [6, 4, 4, 4, 4, 4, 6];
  return groups.map((n, i) => id.slice(groups.slice(0, i).reduce((a, b) => a + b, 0)).slice(0, n)).join('-');
}

/** An LV section as lvm2 writes it in a backup: one linear segment of one extent. */
function lvSection(name, extent) {
  return `
\t\t${name} {
\t\t\tid = "${lvmUuid()}"
\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]
\t\t\tflags = []
\t\t\tcreation_time = ${Math.floor(Date.now() / 1000)}
\t\t\tcreation_host = "bench"
\t\t\tsegment_count = 1

\t\t\tsegment1 {
\t\t\t\tstart_extent = 0
\t\t\t\textent_count = 1

\t\t\t\ttype = "striped"
\t\t\t\tstripe_count = 1

\t\t\t\tstripes = [
\t\t\t\t\t"pv0", ${extent}
\t\t\t\t]
\t\t\t}
\t\t}
`;
}

/** Make the VG with lvm2 on a loop over `image`; returns lvm2's own view of it. */
function makeImage(image, work) {
  const systemDir = join(work, 'lvm');
  mkdirSync(join(systemDir, 'lock'), { recursive: true });
  writeFileSync(
    join(systemDir, 'lvm.conf'),
    `backup { backup = 0 archive = 0 }
devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 hints = "none" }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
global { locking_dir = "${join(systemDir, 'lock')}" }
`,
  );
  const env = { ...process.env, LVM_SYSTEM_DIR: systemDir, LVM_SUPPRESS_FD_WARNINGS: '1' };
  // 1 MiB extents; a 1 MiB metadata area exactly (4 KiB alignment keeps lvm2 from growing it to a MiB boundary).
  execFileSync('truncate', ['-s', `${LVS + 16}M`, image]);
  const loop = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
  try {
    const lvm = (command, ...args) =>
      execFileSync(command, ['--driverloaded', 'n', '--devices', loop, ...args], {
        env,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    lvm('pvcreate', '-q', '--metadatasize', '1m', '--dataalignment', '4k', loop);
    lvm('vgcreate', '-q', '-s', '1m', 'bench-vg', loop);
    lvm('lvcreate', '-q', '-an', '-Zn', '-L', '1m', '-n', 'lv-0', 'bench-vg');
    const backup = join(work, 'backup.txt');
    lvm('vgcfgbackup', '-q', '-f', backup, 'bench-vg');
    const text = readFileSync(backup, 'utf8');
    const more = Array.from({ length: LVS - 1 }, (_, i) => lvSection(`lv-${i + 1}`, i + 1)).join('');
    const edited = text.replace(/(\n\tlogical_volumes \{\n)/, `$1${more}`);
    if (edited === text) throw new Error('no logical_volumes section in the backup');
    writeFileSync(backup, edited);
    lvm('vgcfgrestore', '-q', '-f', backup, 'bench-vg');
    const fields = 'lv_count,vg_mda_size,vg_mda_free,vg_seqno';
    const out = lvm('vgs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', fields, 'bench-vg');
    const report = JSON.parse(out).report[0].vg[0];
    if (Number(report.lv_count) !== LVS)
      throw new Error(`lvm2 reads ${report.lv_count} LVs back, not ${LVS}`);
    return report;
  } finally {
    execFileSync('losetup', ['-d', loop]);
  }
}

const work = mkdtempSync(join(tmpdir(), 'kpt-bench-lvm-'));
try {
  const image = KEEP ?? join(work, 'vg500.img');
  if (!KEEP || !existsSync(KEEP)) {
    const began = performance.now();
    const report = makeImage(image, work);
    console.log(
      `lvm2 made VG bench-vg in ${((performance.now() - began) / 1000).toFixed(1)} s: ${report.lv_count} LVs ` +
        `(lvm2's own count), seqno ${report.vg_seqno}, metadata area ${report.vg_mda_size} bytes, ${report.vg_mda_free} free`,
    );
  }
  const { readPhysicalVolume } = await import(LVM_INDEX);
  const { openFileDisk } = await import(FILE_DISK);
  const disk = openFileDisk(image, statSync(image).size, 512);
  const pv = readPhysicalVolume(disk);
  disk.close();
  const area = pv.header.metadataAreas[0];
  const [sample] = await measure(image, 1);
  console.log(
    `reader: metadata area ${area.size} bytes at byte ${area.offset}, text wrapped: ${pv.metadataAreas[0].wrapped}; ` +
      `${sample.lvs} LVs, ${sample.mapped} mapped as linear`,
  );

  const cold = [];
  for (let i = 0; i < COLD; i++) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', image], {
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(child.stderr);
    cold.push(JSON.parse(child.stdout));
  }
  const warm = (await measure(image, RUNS + 5)).slice(5);

  // For scale: V8's native JSON parser on the same VG, as JSON, in a fresh process.
  const jsonFile = join(work, 'vg.json');
  writeFileSync(jsonFile, JSON.stringify(pv.volumeGroup));
  const json = [];
  for (let i = 0; i < COLD; i++) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--json-child', jsonFile], {
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(child.stderr);
    json.push(JSON.parse(child.stdout));
  }

  const ms = (v) => `${v.toFixed(1)} ms`.padStart(9);
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const p95 = (values) =>
    [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * 0.95))];
  const line = (label, rows, pick) =>
    console.log(
      `${label.padEnd(42)}${ms(pick(rows.map((r) => r.read)))} ${ms(pick(rows.map((r) => r.readCpu)))}` +
        `   ${ms(pick(rows.map((r) => r.assemble)))} ${ms(pick(rows.map((r) => r.assembleCpu)))}`,
    );
  console.log('');
  console.log(`${''.padEnd(42)}  read (wall, CPU)      assemble + map ${LVS} (wall, CPU)`);
  line(`cold: first call, median of ${COLD}`, cold, median);
  line(`warm: median of ${RUNS} runs`, warm, median);
  line('warm: 95th percentile', warm, p95);
  console.log(
    `${'for scale: JSON.parse of the VG as JSON'.padEnd(42)}${ms(median(json.map((r) => r.wall)))} ${ms(median(json.map((r) => r.cpu)))}` +
      `   (${Math.round(statSync(jsonFile).size / 1024)} KiB, cold, median of ${COLD})`,
  );
  const coldWall = median(cold.map((r) => r.read + r.assemble));
  const coldCpu = median(cold.map((r) => r.readCpu + r.assembleCpu));
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log('');
  console.log(`load average ${load} on ${availableParallelism()} CPUs`);
  console.log(
    `target: under 20 ms; cold read + assemble, median: ${ms(coldWall).trim()} wall (${coldWall < 20 ? 'met' : 'NOT met'}), ` +
      `${ms(coldCpu).trim()} CPU of the main thread (${coldCpu < 20 ? 'met' : 'NOT met'})`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
