/** Fixed-width integer and string reads from on-disk structures. Out-of-range reads give 0 / ''. */

// Plain byte arithmetic: a DataView per field read allocated an object for every integer parsed.
const fits = (b: Uint8Array, off: number, len: number) => off >= 0 && off + len <= b.length;

export const u8 = (b: Uint8Array, off: number): number => b[off] ?? 0;
export const le16 = (b: Uint8Array, off: number): number =>
  fits(b, off, 2) ? b[off]! | (b[off + 1]! << 8) : 0;
export const be16 = (b: Uint8Array, off: number): number =>
  fits(b, off, 2) ? (b[off]! << 8) | b[off + 1]! : 0;
export const le32 = (b: Uint8Array, off: number): number =>
  fits(b, off, 4) ? (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0 : 0;
export const be32 = (b: Uint8Array, off: number): number =>
  fits(b, off, 4) ? ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0 : 0;
export const le64 = (b: Uint8Array, off: number): bigint =>
  fits(b, off, 8) ? (BigInt(le32(b, off + 4)) << 32n) | BigInt(le32(b, off)) : 0n;
export const be64 = (b: Uint8Array, off: number): bigint =>
  fits(b, off, 8) ? (BigInt(be32(b, off)) << 32n) | BigInt(be32(b, off + 4)) : 0n;

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
