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

/** The 16 on-disk bytes for a textual GUID (any case); throws on a malformed string. */
export function encodeGuid(text: string): Uint8Array {
  const digits = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(digits) || text.length !== 36) throw new Error(`not a GUID: ${text}`);
  const raw = Uint8Array.from({ length: 16 }, (_, i) => Number.parseInt(digits.slice(i * 2, i * 2 + 2), 16));
  const out = new Uint8Array(16);
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  order.forEach((from, to) => {
    out[to] = raw[from]!;
  });
  return out;
}

export const NULL_GUID = '00000000-0000-0000-0000-000000000000';

/** True when all 16 bytes at `off` are zero (an unused GPT entry). */
export function isNullGuid(b: Uint8Array, off: number): boolean {
  for (let i = off; i < off + 16; i++) if ((b[i] ?? 0) !== 0) return false;
  return true;
}
