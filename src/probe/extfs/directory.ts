/**
 * Directory entries read linearly, block after block, as e2fsck and a kernel without dir_index
 * read them: an htree directory's index blocks look like one empty entry spanning the block (and
 * its root block holds `.` and `..` then the index inside `..`'s record), so they read as nothing
 * and every name is still found in the leaf blocks. Checksum tails are empty entries too.
 */
import { le16, le32 } from '../../io/bytes.js';
import { ExtError } from './errors.js';

export interface DirectoryEntry {
  name: string;
  inode: number;
}

const latin1 = (bytes: Uint8Array): string => String.fromCharCode(...bytes);

/**
 * The entries of one directory block (or an inline directory's bytes). Names are kept as latin1
 * (one character per byte) so any name, UTF-8 or not, compares exactly with a path's bytes.
 */
export function parseDirectoryBlock(
  bytes: Uint8Array,
  options: { fileType: boolean; blockSize: number; where: string },
): DirectoryEntry[] {
  const entries: DirectoryEntry[] = [];
  let at = 0;
  while (at + 8 <= bytes.length) {
    const inode = le32(bytes, at);
    let recordLength = le16(bytes, at + 4);
    // 64 KiB blocks cannot say 65536 in 16 bits: ext4 writes 0 or 65535 for it.
    if (options.blockSize >= 65536 && (recordLength === 0 || recordLength === 65535)) recordLength = 65536;
    const nameLength = options.fileType ? bytes[at + 6]! : le16(bytes, at + 6);
    if (
      recordLength < 8 ||
      recordLength % 4 !== 0 ||
      at + recordLength > bytes.length ||
      8 + nameLength > recordLength
    )
      throw new ExtError(
        `${options.where}: directory entry at byte ${at} is damaged (record length ${recordLength})`,
      );
    if (inode !== 0 && nameLength > 0)
      entries.push({ name: latin1(bytes.subarray(at + 8, at + 8 + nameLength)), inode });
    at += recordLength;
  }
  return entries;
}
