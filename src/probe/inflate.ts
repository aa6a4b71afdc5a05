/**
 * Decompressing one cluster or grain, never to more than its size: a hostile image cannot make
 * a small compressed block expand without bound.
 */
import * as zlib from 'node:zlib';

/**
 * Exactly `size` bytes from a raw deflate stream (qcow2's zlib clusters), or null when the data
 * does not decode to that many. Bytes after the end of the stream (the rest of the last sector,
 * or the next cluster's data) are ignored, as qemu ignores them.
 */
export function inflateRawExact(input: Uint8Array, size: number): Uint8Array | null {
  return exact(
    () => zlib.inflateRawSync(input, { maxOutputLength: size, finishFlush: zlib.constants.Z_SYNC_FLUSH }),
    size,
  );
}

/**
 * Up to `size` bytes from a zlib stream (VMDK's compressed grains; the disk's last grain may hold
 * less), or null when it does not decode or would give more.
 */
export function inflateZlibUpTo(input: Uint8Array, size: number): Uint8Array | null {
  try {
    const out = zlib.inflateSync(input, { maxOutputLength: size, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch {
    return null;
  }
}

type ZstdDecompress = (input: Uint8Array, options: { maxOutputLength: number }) => Buffer;
const zstdDecompress = (zlib as unknown as { zstdDecompressSync?: ZstdDecompress }).zstdDecompressSync;

/** True when this Node.js decompresses zstd (22.15 and later). */
export const haveZstd = typeof zstdDecompress === 'function';

/** Exactly `size` bytes from a zstd frame (qcow2's zstd clusters), or null; only when haveZstd. */
export function zstdExact(input: Uint8Array, size: number): Uint8Array | null {
  if (!zstdDecompress) return null;
  return exact(() => zstdDecompress(input, { maxOutputLength: size }), size);
}

/** The decoded bytes when there are exactly `size` of them; null when decoding fails or falls short. */
function exact(decode: () => Buffer, size: number): Uint8Array | null {
  try {
    const out = decode();
    return out.length === size ? new Uint8Array(out.buffer, out.byteOffset, out.length) : null;
  } catch {
    return null;
  }
}
