/** Fixed-width integer and string reads from on-disk structures. Out-of-range reads give 0 / ''. */

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const fits = (b: Uint8Array, off: number, len: number) => off >= 0 && off + len <= b.length;

export const u8 = (b: Uint8Array, off: number): number => b[off] ?? 0;
export const le16 = (b: Uint8Array, off: number): number =>
  fits(b, off, 2) ? view(b).getUint16(off, true) : 0;
export const be16 = (b: Uint8Array, off: number): number =>
  fits(b, off, 2) ? view(b).getUint16(off, false) : 0;
export const le32 = (b: Uint8Array, off: number): number =>
  fits(b, off, 4) ? view(b).getUint32(off, true) : 0;
export const be32 = (b: Uint8Array, off: number): number =>
  fits(b, off, 4) ? view(b).getUint32(off, false) : 0;
export const le64 = (b: Uint8Array, off: number): bigint =>
  fits(b, off, 8) ? view(b).getBigUint64(off, true) : 0n;
export const be64 = (b: Uint8Array, off: number): bigint =>
  fits(b, off, 8) ? view(b).getBigUint64(off, false) : 0n;

/** A 64-bit on-disk value as a number, or null when it cannot be represented exactly. */
export const safeNumber = (v: bigint): number | null =>
  v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;

/** ASCII/Latin-1 bytes up to the first NUL. */
export function cString(b: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i < Math.min(b.length, off + len); i++) {
    const c = b[i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

export function hex(b: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = off; i < off + len; i++) s += (b[i] ?? 0).toString(16).padStart(2, '0');
  return s;
}

export function bytesEqual(b: Uint8Array, off: number, expected: ArrayLike<number>): boolean {
  if (!fits(b, off, expected.length)) return false;
  for (let i = 0; i < expected.length; i++) if (b[off + i] !== expected[i]) return false;
  return true;
}

export const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
