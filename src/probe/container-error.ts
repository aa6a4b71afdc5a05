/** Why the guest's disk inside a container cannot be read (or stops being readable part-way). */
export type ContainerProblem =
  /** The file is not in the format it was opened as. */
  | 'wrong-format'
  /** A version of the format this reader does not know. */
  | 'version'
  /** A layout of the format that is recognised but not read here (COWD, seSparse, qcow v1, …). */
  | 'unsupported'
  /** A backing file (parent image) that cannot be followed: no path to look from, a protocol name. */
  | 'backing-file'
  /** The backing file named in the image is not there. */
  | 'backing-missing'
  /** The backing chain comes back to an image already in it. */
  | 'backing-loop'
  /** The backing chain is deeper than the reader follows. */
  | 'backing-depth'
  /** The backing file is in a format the chain does not follow. */
  | 'backing-format'
  /** An extent file a VMDK descriptor names is not there. */
  | 'missing-extent'
  | 'encryption'
  | 'external-data-file'
  | 'extended-l2'
  /** An incompatible feature bit the reader does not know: reading on could give wrong bytes. */
  | 'unknown-feature'
  /** Compressed data in a compression this Node.js cannot decompress. */
  | 'compression'
  /** A VHDX log that must be replayed before the metadata can be trusted. */
  | 'log-replay'
  /** A structure that points outside the file, is out of range, or does not decode. */
  | 'corrupt'
  /** The file (or a file it names) cannot be opened or read. */
  | 'io';

/** A container the reader cannot open or read on; the message names the file and the problem. */
export class ContainerError extends Error {
  constructor(
    /** The image file (as given) the problem is in. */
    readonly file: string,
    /** `qcow2`, `vmdk`, `vhd`, `vhdx`, `vdi`. */
    readonly format: string,
    readonly problem: ContainerProblem,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'ContainerError';
  }
}
