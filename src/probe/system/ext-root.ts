/** The Linux root on an ext2/3/4 filesystem, read with the ext reader without mounting it. */
import type { Disk } from '../../io/disk.js';
import { ExtError, openExtVolume } from '../extfs/index.js';
import { readVolumeRoot, type VolumeRootResult } from './volume-root.js';

export const readExtRoot = (disk: Disk): VolumeRootResult =>
  readVolumeRoot(() => openExtVolume(disk), ExtError);
