/**
 * A minimal EROFS image written by hand: a filesystem this kernel mounts that kpartx-tui's probe
 * does not recognise (and no mkfs here writes), to test mounting content by a named type. Block
 * size 4096: the superblock at byte 1024, the root directory's and the file's compact inodes
 * right after it, the root directory in block 1, the file's bytes in block 2 (both flat, plain).
 */

const BLOCK = 4096;
const ROOT_NID = 36; // byte 1152: just after the 128-byte superblock at 1024
const FILE_NID = 37;

function compactInode(mode: number, nlink: number, size: number, block: number, ino: number): Buffer {
  const inode = Buffer.alloc(32);
  inode.writeUInt16LE(0, 0); // i_format: compact, flat plain layout
  inode.writeUInt16LE(mode, 4);
  inode.writeUInt16LE(nlink, 6);
  inode.writeUInt32LE(size, 8);
  inode.writeUInt32LE(block, 16); // raw_blkaddr
  inode.writeUInt32LE(ino, 20);
  return inode;
}

/** An EROFS image holding `/<name>` with `text`; `sizeBytes` pads it (a whole partition). */
export function erofsImage(name: string, text: string, sizeBytes = 3 * BLOCK): Buffer {
  const image = Buffer.alloc(Math.max(sizeBytes, 3 * BLOCK));
  const sb = image.subarray(1024, 1024 + 128);
  sb.writeUInt32LE(0xe0f5e1e2, 0); // magic
  sb.writeUInt8(12, 12); // blkszbits
  sb.writeUInt16LE(ROOT_NID, 14);
  sb.writeBigUInt64LE(2n, 16); // inodes
  sb.writeUInt32LE(3, 36); // blocks
  sb.write('kpartx-tui-test', 48, 'latin1'); // uuid bytes
  sb.write('erofs-test', 64, 'latin1'); // volume name
  // The root directory: dirents sorted by name, then the names, unterminated.
  const names = ['.', '..', name];
  const dir = Buffer.alloc(BLOCK);
  let nameOff = names.length * 12;
  names.forEach((entry, i) => {
    dir.writeBigUInt64LE(BigInt(entry === name ? FILE_NID : ROOT_NID), i * 12);
    dir.writeUInt16LE(nameOff, i * 12 + 8);
    dir.writeUInt8(entry === name ? 1 : 2, i * 12 + 10); // regular file, directory
    dir.write(entry, nameOff, 'latin1');
    nameOff += entry.length;
  });
  compactInode(0o40755, 2, nameOff, 1, 1).copy(image, ROOT_NID * 32);
  compactInode(0o100644, 1, Buffer.byteLength(text), 2, 2).copy(image, FILE_NID * 32);
  dir.copy(image, BLOCK);
  image.write(text, 2 * BLOCK, 'utf8');
  return image;
}
