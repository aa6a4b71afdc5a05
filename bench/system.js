#!/usr/bin/env node
/**
 * What naming the Linux root on an ext4 partition costs `--json`: one 64 MiB ext4 (4 KiB blocks)
 * made by mke2fs and filled by debugfs with a Debian root's files (os-release as the usual
 * relative link, hostname, shadow), read N times the way `--json` reads a partition (a fresh
 * page-cached view of the file each time). It prints the reads and bytes per partition, as the
 * reader asks for them and as they reach the file, and the CPU time per 1000 partitions.
 *
 * Usage: npm run build && node bench/system.js [--runs 1000]   (needs mke2fs and debugfs)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { findFilesystemSystem } = await import(join(root, 'dist', 'engine', 'stack', 'index.js'));
const { fileDisk, pageCachedDisk } = await import(join(root, 'dist', 'io', 'file-disk.js'));

const at = process.argv.indexOf('--runs');
const RUNS = at >= 0 ? Number(process.argv[at + 1]) : 1000;
const work = mkdtempSync(join(tmpdir(), 'kpartx-bench-system-'));
try {
  const image = join(work, 'root.ext4');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', image, '64M'], { stdio: 'ignore' });
  writeFileSync(
    join(work, 'os-release'),
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
  );
  writeFileSync(join(work, 'hostname'), 'bookworm-vm\n');
  writeFileSync(join(work, 'shadow'), 'root:*:19800:0:99999:7:::\n');
  const script = join(work, 'commands');
  writeFileSync(
    script,
    [
      'mkdir etc',
      'mkdir usr',
      'mkdir usr/lib',
      `write ${work}/os-release usr/lib/os-release`,
      'symlink etc/os-release ../usr/lib/os-release',
      `write ${work}/hostname etc/hostname`,
      `write ${work}/shadow etc/shadow`,
    ].join('\n'),
  );
  execFileSync('debugfs', ['-w', '-f', script, image], { stdio: 'ignore' });

  const fd = openSync(image, 'r');
  const size = statSync(image).size;
  const content = { type: 'ext4', usage: 'filesystem', mountable: true };
  const counted = () => {
    const file = fileDisk(fd, image, size, 512);
    const stats = { asked: 0, askedBytes: 0, fileReads: 0, fileBytes: 0 };
    const base = Object.assign(Object.create(file), {
      readAt(offset, length) {
        stats.fileReads++;
        stats.fileBytes += length;
        return file.readAt(offset, length);
      },
    });
    const paged = pageCachedDisk(base);
    const disk = Object.assign(Object.create(paged), {
      readAt(offset, length) {
        stats.asked++;
        stats.askedBytes += length;
        return paged.readAt(offset, length);
      },
    });
    return { disk, stats };
  };
  const once = counted();
  const found = findFilesystemSystem(once.disk, content);
  if (found.system?.label !== 'Debian GNU/Linux 12 root')
    throw new Error(`unexpected: ${JSON.stringify(found)}`);
  const before = process.cpuUsage();
  for (let i = 0; i < RUNS; i++) findFilesystemSystem(counted().disk, content);
  const cpu = process.cpuUsage(before);
  const { asked, askedBytes, fileReads, fileBytes } = once.stats;
  console.log(
    `per ext4 root partition: ${asked} reads asked (${askedBytes} bytes), ${fileReads} reads of the file (${fileBytes} bytes, 4 KiB pages)`,
  );
  console.log(`CPU per 1000 partitions: ${(((cpu.user + cpu.system) / 1000) * (1000 / RUNS)).toFixed(0)} ms`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
