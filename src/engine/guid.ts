/**
 * GUIDs as EFI stores them: the first three fields little-endian, the last eight bytes as they are.
 * Text form is lower case with dashes, like libblkid and sgdisk -i print them (sgdisk in upper case).
 */
import { hex } from '../io/bytes.js';

const reversedHex = (b: Uint8Array, off: number, len: number): string => {
  let s = '';
  for (let i = off + len - 1; i >= off; i--) s += (b[i] ?? 0).toString(16).padStart(2, '0');
  return s;
};

/** The 16 bytes at `off` as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
export function decodeGuid(b: Uint8Array, off: number): string {
  return [
    reversedHex(b, off, 4),
    reversedHex(b, off + 4, 2),
    reversedHex(b, off + 6, 2),
    hex(b, off + 8, 2),
    hex(b, off + 10, 6),
  ].join('-');
}

/** True when all 16 bytes at `off` are zero (an unused GPT entry). */
export function isNullGuid(b: Uint8Array, off: number): boolean {
  for (let i = off; i < off + 16; i++) if ((b[i] ?? 0) !== 0) return false;
  return true;
}
