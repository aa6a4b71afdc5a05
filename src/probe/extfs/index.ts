/** An ext2/3/4 file reader over a Disk: small files read without mounting. */
export { ExtError } from './errors.js';
export { type ExtEntry, type ExtVolume, openExtVolume } from './volume.js';
