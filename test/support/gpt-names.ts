/**
 * Writes GPT partition names as raw UTF-16 code units into an image file, in the primary and the
 * backup table, with both CRCs redone: names no partitioning tool would write (controls, lone
 * surrogates), as a hostile image holds them.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from '../../src/io/crc32.js';

const SECTOR = 512;
const NAME_OFFSET = 56;
const NAME_UNITS = 36;

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  readSync(fd, buf, 0, length, offset);
  return buf;
}

function rewriteTable(fd: number, headerLba: bigint, names: Map<number, string>): bigint {
  const header = readAt(fd, Number(headerLba) * SECTOR, SECTOR);
  if (header.toString('latin1', 0, 8) !== 'EFI PART') throw new Error(`no GPT header at LBA ${headerLba}`);
  const headerSize = header.readUInt32LE(12);
  const alternate = header.readBigUInt64LE(32);
  const entriesLba = header.readBigUInt64LE(72);
  const count = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  const entries = readAt(fd, Number(entriesLba) * SECTOR, count * entrySize);
  for (const [number, name] of names) {
    if (name.length > NAME_UNITS) throw new Error(`GPT name longer than ${NAME_UNITS} units: ${name}`);
    const at = (number - 1) * entrySize + NAME_OFFSET;
    entries.fill(0, at, at + NAME_UNITS * 2);
    // Code units as they are: a lone surrogate is written as it stands.
    for (let i = 0; i < name.length; i++) entries.writeUInt16LE(name.charCodeAt(i), at + i * 2);
  }
  header.writeUInt32LE(crc32(entries), 88);
  header.writeUInt32LE(0, 16);
  header.writeUInt32LE(crc32(header.subarray(0, headerSize)), 16);
  writeSync(fd, entries, 0, entries.length, Number(entriesLba) * SECTOR);
  writeSync(fd, header, 0, SECTOR, Number(headerLba) * SECTOR);
  return alternate;
}

/** Set the names of partitions (by number) in both GPT copies of the image at `path`. */
export function setGptNames(path: string, names: Map<number, string>): void {
  const fd = openSync(path, 'r+');
  try {
    const backup = rewriteTable(fd, 1n, names);
    rewriteTable(fd, backup, names);
  } finally {
    closeSync(fd);
  }
}
