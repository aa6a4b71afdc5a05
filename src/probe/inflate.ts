/**
 * Decompressing one cluster or grain, never to more than its size: a hostile image cannot make
 * a small compressed block expand without bound.
 */
import { lazyBuiltin } from '../io/builtin.js';

// Loaded at the first compressed cluster: listing a plain image never needs zlib.
const zlibModule = lazyBuiltin<typeof import('node:zlib')>('node:zlib');

/**
 * Exactly `size` bytes from a raw deflate stream (qcow2's zlib clusters), or null when the data
 * does not decode to that many. Bytes after the end of the stream (the rest of the last sector,
 * or the next cluster's data) are ignored, as qemu ignores them.
 */
export function inflateRawExact(input: Uint8Array, size: number): Uint8Array | null {
  const zlib = zlibModule();
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
  const zlib = zlibModule();
  try {
    const out = zlib.inflateSync(input, { maxOutputLength: size, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch {
    return null;
  }
}

type ZstdDecompress = (input: Uint8Array, options: { maxOutputLength: number }) => Buffer;
const zstdDecompress = (): ZstdDecompress | undefined =>
  (zlibModule() as unknown as { zstdDecompressSync?: ZstdDecompress }).zstdDecompressSync;

/** True when this Node.js decompresses zstd (22.15 and later). */
export const haveZstd = (): boolean => typeof zstdDecompress() === 'function';

/**
 * Exactly `size` bytes from the zstd frame at the start of `input` (qcow2's zstd clusters), or
 * null; only when haveZstd. The frame is cut out first: what follows it in the last sector is
 * another cluster's data, which qemu's streaming decoder never looks at.
 */
export function zstdExact(input: Uint8Array, size: number): Uint8Array | null {
  const decompress = zstdDecompress();
  const length = zstdFrameLength(input);
  if (!decompress || length === null) return null;
  return exact(() => decompress(input.subarray(0, length), { maxOutputLength: size }), size);
}

/**
 * The length of the zstd frame at the start of `bytes`, from its header and block headers (RFC
 * 8878, section 3.1.1), or null when it is not a whole frame.
 */
export function zstdFrameLength(bytes: Uint8Array): number | null {
  if (bytes.length < 6 || bytes[0] !== 0x28 || bytes[1] !== 0xb5 || bytes[2] !== 0x2f || bytes[3] !== 0xfd)
    return null;
  const descriptor = bytes[4]!;
  const singleSegment = (descriptor >> 5) & 1;
  const contentSizeBytes = [singleSegment, 2, 4, 8][descriptor >> 6]!;
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]!;
  let at = 5 + (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes;
  for (;;) {
    if (at + 3 > bytes.length) return null;
    const header = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16);
    const type = (header >> 1) & 3;
    if (type === 3) return null;
    at += 3 + (type === 1 ? 1 : header >>> 3);
    if (header & 1) break;
  }
  if ((descriptor >> 2) & 1) at += 4;
  return at <= bytes.length ? at : null;
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
