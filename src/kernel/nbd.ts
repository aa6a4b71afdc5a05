import { existsSync } from 'node:fs';

/** Whether this kernel has the network block device qemu-nbd attaches containers to (loaded or with nodes). */
export function nbdPresent(): boolean {
  return existsSync('/sys/module/nbd') || existsSync('/dev/nbd0');
}
