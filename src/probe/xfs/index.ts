/** An XFS file reader over a Disk: small files read without mounting. */
export { XfsError } from './errors.js';
export { openXfsVolume, type XfsEntry, type XfsVolume } from './volume.js';
