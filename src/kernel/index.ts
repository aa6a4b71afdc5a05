/** The real kernel: block devices, loop devices, device-mapper (when present) and mounts. */
import { blockDevice, setBlockReadOnly } from './block.js';
import { openDeviceMapper } from './dm.js';
import { acquireLock, lockKey } from './lock.js';
import { createLoopApi } from './loop.js';
import { createMountApi } from './mount.js';
import type { Kernel } from './types.js';

export function createKernel(): Kernel {
  return {
    blockDevice,
    loop: createLoopApi(),
    dm: openDeviceMapper(),
    mounts: createMountApi(),
    setReadOnly: setBlockReadOnly,
    lockImage: (file, device) =>
      acquireLock(lockKey({ devno: { major: 0, minor: 0 }, image: { file } }), device),
  };
}
