/**
 * Disks for the storage-stack tests, made by the real tools in a temp dir: a 64 MiB GPT disk
 * (sgdisk) with an ESP (mkfs.vfat), an ext4 root (mkfs.ext4; a Debian one, files by debugfs, on request) and, where lvm2 and loop devices are
 * there, an LVM PV (pvcreate/vgcreate/lvcreate with --driverloaded n, private LVM_SYSTEM_DIR) whose
 * LV `vgtest/root` holds an ext4 (a Rocky Linux root on request) written where lvm2 says its extents are; then the same disk
 * converted by qemu-img to each container format.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canUseLvm2, lvm2Sandbox, withLoops } from '../lvm2-helpers.js';
import { DEBIAN_ROOT, fillExtImage, ROCKY_ROOT } from './ext-images.js';

const have = (tool: string) =>
  spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
export const canMakeDisks = ['sgdisk', 'mkfs.vfat', 'mkfs.ext4', 'debugfs', 'qemu-img'].every(have);
export const disksSkipReason = 'needs sgdisk, mkfs.vfat, mkfs.ext4, debugfs and qemu-img; skipped';

/** Sectors of the GPT disk's partitions. */
export const LAYOUT = {
  esp: { start: 2048, size: 32768 },
  root: { start: 34816, size: 40960 },
  lvm: { start: 75776, size: 55263 },
};

export interface StackDisks {
  dir: string;
  raw: string;
  /** Whether partition 3 holds the VG `vgtest` (lvm2 and loops were there). */
  lvm: boolean;
  /** lvm2's own view of the LVs: name, size in sectors, segment type. */
  lvs: { name: string; sectors: number; segtype: string }[];
  convert(format: 'qcow2' | 'vmdk' | 'vpc' | 'vhdx' | 'vdi', options?: string, name?: string): string;
  cleanup(): void;
}

function put(image: string, file: string, sector: number) {
  execFileSync('dd', [
    `if=${file}`,
    `of=${image}`,
    'bs=512',
    `seek=${sector}`,
    'conv=notrunc',
    'status=none',
  ]);
}

function filesystem(dir: string, name: string, mib: number, mkfs: string[]): string {
  const file = join(dir, name);
  execFileSync('truncate', ['-s', `${mib}M`, file]);
  execFileSync(mkfs[0]!, [...mkfs.slice(1), file], { stdio: 'ignore' });
  return file;
}

/** `withSystems`: the root and the LV root hold a Debian and a Rocky Linux system's files. */
export function makeStackDisks(withLvm = true, withSystems = false): StackDisks {
  const dir = mkdtempSync(join(tmpdir(), 'kpt-stack-'));
  const raw = join(dir, 'disk.img');
  execFileSync('truncate', ['-s', '64M', raw]);
  execFileSync(
    'sgdisk',
    ['-n1:2048:+16M', '-t1:ef00', '-n2:0:+20M', '-c2:root', '-n3:0:0', '-t3:8e00', raw],
    {
      stdio: 'ignore',
    },
  );
  put(raw, filesystem(dir, 'esp.fs', 16, ['mkfs.vfat', '-n', 'ESP']), LAYOUT.esp.start);
  const root = filesystem(dir, 'root.fs', 20, ['mkfs.ext4', '-q', '-L', 'root']);
  // A Debian root the system identification names without mounting.
  if (withSystems) fillExtImage(dir, root, DEBIAN_ROOT);
  put(raw, root, LAYOUT.root.start);
  let lvm = false;
  let lvs: StackDisks['lvs'] = [];
  if (withLvm && canUseLvm2) {
    const lvm2 = lvm2Sandbox();
    try {
      const { start, size } = LAYOUT.lvm;
      withLoops(
        [raw],
        ([loop]) => {
          const devices = [loop!];
          lvm2.run('pvcreate', ['-q', loop!], devices);
          lvm2.run('vgcreate', ['-q', 'vgtest', loop!], devices);
          lvm2.run('lvcreate', ['-an', '-Zn', '-q', '-n', 'root', '-L', '12M', 'vgtest'], devices);
          lvm2.run('lvcreate', ['-an', '-Zn', '-q', '-n', 'data', '-L', '8M', 'vgtest'], devices);
          const [pv] = lvm2.report('pvs', 'pe_start', [], devices);
          const [vg] = lvm2.report('vgs', 'vg_extent_size', ['vgtest'], devices);
          const [seg] = lvm2.report('lvs', 'seg_pe_ranges', ['--segments', 'vgtest/root'], devices);
          // `/dev/loopN:FIRST-LAST`: where lvm2 put the root LV's extents.
          const first = Number(/:(\d+)-/.exec(seg!.seg_pe_ranges!)![1]);
          const rootAt = start + Number(pv!.pe_start) + first * Number(vg!.vg_extent_size);
          lvs = lvm2
            .report('lvs', 'lv_name,lv_size,segtype', ['vgtest'], devices)
            .map((r) => ({ name: r.lv_name!, sectors: Number(r.lv_size), segtype: r.segtype! }));
          const lvroot = filesystem(dir, 'lvroot.fs', 12, ['mkfs.ext4', '-q', '-L', 'lvroot']);
          if (withSystems) fillExtImage(dir, lvroot, ROCKY_ROOT);
          put(raw, lvroot, rootAt);
        },
        ['-o', String(start * 512), '--sizelimit', String(size * 512)],
      );
      lvm = true;
    } finally {
      lvm2.cleanup();
    }
  }
  return {
    dir,
    raw,
    lvm,
    lvs,
    convert(format, options, name) {
      const out = join(dir, name ?? `disk.${format}`);
      execFileSync('qemu-img', ['convert', '-O', format, ...(options ? ['-o', options] : []), raw, out]);
      return out;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
