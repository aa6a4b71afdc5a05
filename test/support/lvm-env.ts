/**
 * The one environment tests run lvm2's tools in, without touching the host's LVM: a private
 * LVM_SYSTEM_DIR whose lvm.conf turns off metadata backups and archives (they would land in
 * /etc/lvm otherwise), the devices file, hints, udev, monitoring and lvmlockd, and keeps lock files
 * in the directory too. The directory goes with `dispose`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const lvmConf = (lockDir: string) => `backup {
  backup = 0
  archive = 0
}
devices {
  use_devicesfile = 0
  obtain_device_list_from_udev = 0
  hints = "none"
}
activation {
  udev_sync = 0
  udev_rules = 0
  monitoring = 0
}
global {
  use_lvmlockd = 0
  locking_dir = "${lockDir}"
}
`;

export interface LvmEnv {
  /** The directory LVM_SYSTEM_DIR names. */
  dir: string;
  env: NodeJS.ProcessEnv;
  dispose(): void;
}

/** A fresh system directory: in a new temporary directory, or `<parent>/lvm` when given. */
export function privateLvmEnv(parent?: string): LvmEnv {
  const dir = parent ? join(parent, 'lvm') : mkdtempSync(join(tmpdir(), 'kpartx-lvm-'));
  mkdirSync(join(dir, 'lock'), { recursive: true });
  writeFileSync(join(dir, 'lvm.conf'), lvmConf(join(dir, 'lock')));
  return {
    dir,
    env: { ...process.env, LVM_SYSTEM_DIR: dir, LVM_SUPPRESS_FD_WARNINGS: '1' },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
