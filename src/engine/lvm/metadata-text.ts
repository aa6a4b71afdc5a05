/**
 * The committed metadata text of one metadata area. The area after its header is a circular
 * buffer: a text that runs past the end of the area continues right after the header, and its
 * checksum covers both pieces in order.
 */
import type { Disk } from '../../io/disk.js';
import { lvmCrc } from './crc.js';
import { DEFAULT_LVM_LIMITS, LvmError, type LvmLimits } from './errors.js';
import { MDA_HEADER_SIZE, type MdaHeader } from './mda-header.js';

export interface MetadataText {
  text: string;
  /** The text's bytes as stored (trailing NUL included), for comparing copies. */
  size: number;
  checksum: number;
  /** True when the text wrapped around the end of the circular buffer. */
  wrapped: boolean;
}

const decoder = new TextDecoder('utf-8');

/** The committed text, or null when the area holds none. */
export function readMetadataText(
  disk: Disk,
  header: MdaHeader,
  limits: LvmLimits = DEFAULT_LVM_LIMITS,
): MetadataText | null {
  const location = header.committed;
  if (!location || location.size === 0) return null;
  const where = `metadata area at byte ${header.start}`;
  if (location.size > limits.maxTextBytes) {
    throw new LvmError(
      `${where}: metadata text of ${location.size} bytes is larger than ${limits.maxTextBytes}`,
    );
  }
  const firstSize = Math.min(location.size, header.size - location.offset);
  const secondSize = location.size - firstSize;
  if (
    header.start + location.offset + firstSize > disk.size ||
    header.start + MDA_HEADER_SIZE + secondSize > disk.size
  ) {
    throw new LvmError(`${where}: metadata text lies past the end of the device`);
  }
  const first = disk.readAt(header.start + location.offset, firstSize);
  const second = secondSize > 0 ? disk.readAt(header.start + MDA_HEADER_SIZE, secondSize) : new Uint8Array(0);
  if (first.length < firstSize || second.length < secondSize) {
    throw new LvmError(`${where}: metadata text lies past the end of the device`);
  }
  // Only a wrapped text needs its two pieces joined; a whole one is used as read.
  let bytes = first;
  if (secondSize > 0) {
    bytes = new Uint8Array(location.size);
    bytes.set(first, 0);
    bytes.set(second, firstSize);
  }
  const crc = lvmCrc(bytes);
  if (crc !== location.checksum) throw new LvmError(`${where}: metadata text checksum is wrong`);
  // lvm2 writes the text with its terminating NUL; the parser stops at a NUL too.
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  return {
    text: decoder.decode(bytes.subarray(0, end)),
    size: location.size,
    checksum: crc,
    wrapped: secondSize > 0,
  };
}
