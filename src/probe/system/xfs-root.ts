/** The Linux root on an XFS, read with the XFS reader without mounting it. */
import type { Disk } from '../../io/disk.js';
import { openXfsVolume, XfsError } from '../xfs/index.js';
import { readVolumeRoot, type VolumeRootResult } from './volume-root.js';

export const readXfsRoot = (disk: Disk): VolumeRootResult =>
  readVolumeRoot(() => openXfsVolume(disk), XfsError);
