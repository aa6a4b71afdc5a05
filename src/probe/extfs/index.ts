/** An ext2/3/4 file reader over a Disk: small files read without mounting. */
export { ExtError } from './errors.js';
export { type ExtEntry, type ExtVolume, MAX_FILE_BYTES, openExtVolume } from './volume.js';
