/** How on-disk identifiers become the text blkid prints. */
import { decodeUtf8Visibly } from '../io/display-text.js';

/** Bytes up to the first NUL within `length`. */
function untilNul(b: Uint8Array, off: number, length: number): Uint8Array {
  const window = b.subarray(off, Math.min(b.length, off + length));
  const end = window.indexOf(0);
  return end < 0 ? window : window.subarray(0, end);
}

/** blkid trims trailing white space (and NULs) from every label; an empty label is no label. */
export function finishLabel(text: string): string | undefined {
  const trimmed = text.replace(/[\s\0]+$/u, '');
  return trimmed.length > 0 ? trimmed : undefined;
}

/**
 * A label stored as a C string (UTF-8 in practice): ext, xfs, btrfs, swap, LUKS2, md, ZFS. Bytes
 * that are not UTF-8 stay visible as `\xNN` rather than becoming U+FFFD.
 */
export function cLabel(b: Uint8Array, off: number, length: number): string | undefined {
  return finishLabel(decodeUtf8Visibly(untilNul(b, off, length)));
}

/**
 * UTF-16 text up to the first NUL character. A lone surrogate is kept as it is (TextDecoder would
 * silently make it U+FFFD): `--json` prints it as `\udXXX`, the app as the same escape.
 */
export function utf16Label(
  b: Uint8Array,
  off: number,
  length: number,
  littleEndian: boolean,
): string | undefined {
  const units: number[] = [];
  for (let i = off; i + 1 < Math.min(b.length, off + length); i += 2) {
    const unit = littleEndian ? b[i]! | (b[i + 1]! << 8) : (b[i]! << 8) | b[i + 1]!;
    if (unit === 0) break;
    units.push(unit);
  }
  return finishLabel(String.fromCharCode(...units));
}

/** `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` from 16 raw bytes; undefined when they are all zero (blkid skips those). */
export function uuidString(b: Uint8Array, off: number): string | undefined {
  if (off < 0 || off + 16 > b.length) return undefined;
  const bytes = b.subarray(off, off + 16);
  if (bytes.every((x) => x === 0)) return undefined;
  const h = [...bytes].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A 4-byte little-endian volume serial as FAT, exFAT and HPFS print it: `ABCD-1234`. */
export function serial32(b: Uint8Array, off: number): string {
  const hex = (i: number) => (b[off + i] ?? 0).toString(16).toUpperCase().padStart(2, '0');
  return `${hex(3)}${hex(2)}-${hex(1)}${hex(0)}`;
}

/** `length` bytes at `off` as Latin-1 text, NULs included: for comparing magic strings cheaply. */
export function latin1(b: Uint8Array, off: number, length: number): string {
  let s = '';
  for (let i = off; i < Math.min(b.length, off + length); i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** An ASCII string stored in a fixed field, cut at the first NUL (LUKS UUIDs, LVM ids). */
export function asciiField(b: Uint8Array, off: number, length: number): string {
  let s = '';
  for (const c of untilNul(b, off, length)) s += String.fromCharCode(c);
  return s;
}

// DOS code page 850, bytes 0x80-0xFF: FAT short names and labels are stored in the OEM code page.
const CP850_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈıÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u00ad±‗¾¶§÷¸°¨·¹³²■\u00a0';

/** A FAT label (11 bytes, OEM code page). ASCII is as is; high bytes are read as code page 850. */
export function oemLabel(b: Uint8Array, off: number, length: number): string | undefined {
  let s = '';
  for (const c of untilNul(b, off, length)) s += c < 0x80 ? String.fromCharCode(c) : CP850_HIGH[c - 0x80];
  return finishLabel(s);
}
