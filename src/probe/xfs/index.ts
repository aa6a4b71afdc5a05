/** An XFS file reader over a Disk: small files read without mounting. */
export { XfsError } from './errors.js';
export { MAX_FILE_BYTES, openXfsVolume, type XfsEntry, type XfsVolume } from './volume.js';
