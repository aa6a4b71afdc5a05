/**
 * An environment for running lvm2's tools in tests without touching the host's LVM: a private
 * LVM_SYSTEM_DIR whose lvm.conf turns off metadata backups and archives (they would land in
 * /etc/lvm otherwise), the devices file, udev and monitoring. The directory goes with `dispose`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LVM_CONF = `backup {
  backup = 0
  archive = 0
}
devices {
  use_devicesfile = 0
  obtain_device_list_from_udev = 0
}
activation {
  udev_sync = 0
  udev_rules = 0
  monitoring = 0
}
global {
  use_lvmlockd = 0
}
`;

export interface LvmEnv {
  env: NodeJS.ProcessEnv;
  dispose(): void;
}

export function privateLvmEnv(): LvmEnv {
  const dir = mkdtempSync(join(tmpdir(), 'kpartx-lvm-'));
  writeFileSync(join(dir, 'lvm.conf'), LVM_CONF);
  return {
    env: { ...process.env, LVM_SYSTEM_DIR: dir, LVM_SUPPRESS_FD_WARNINGS: '1' },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
