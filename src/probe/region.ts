import type { Disk } from '../io/disk.js';

/**
 * A bounded window of a disk: a partition, or the whole device. Probers read through it so no
 * read ever leaves the window, and a read that cannot be satisfied in full comes back as null
 * (a truncated image then simply does not match) instead of an exception.
 */
export interface Region {
  /** Usable bytes: the requested size, clipped to what the disk really holds. */
  readonly size: number;
  /** Exactly `length` bytes at `offset` inside the region, or null when they are not all there. */
  read(offset: number, length: number): Uint8Array | null;
}

/**
 * Where the signatures cluster, relative to the region's start. Every prober looks at the first
 * 8 KiB (boot sectors, superblocks at 0/1 KiB/4 KiB, LVM's label sectors, the exFAT boot region,
 * swap's 4 and 8 KiB pages) and several look around 16, 32 and 64 KiB (LUKS2 secondary headers,
 * swap's larger pages, the ZFS label's nvlist, ISO 9660's first descriptor, btrfs's superblock).
 * One read per span serves all of them; anything else is read as asked. A read costs about as much
 * as copying 10 KiB more, so the first span runs on to 16.5 KiB; the spans add up to 22.5 KiB, so
 * an empty partition still costs well under 32 KiB.
 */
const SPANS: ReadonlyArray<readonly [number, number]> = [
  [0, 0x4000 + 512],
  [0x8000 - 10, 0x8000 + 2048],
  [0x10000 - 10, 0x10000 + 4096],
];
export const SPAN_BYTES = SPANS.reduce((sum, [from, to]) => sum + (to - from), 0);
/** Where each span sits in the buffer that holds them all. */
const SPAN_AT = SPANS.map((_, i) => SPANS.slice(0, i).reduce((sum, [from, to]) => sum + (to - from), 0));

/** Bytes a region may keep in a caller's scratch buffer: the spans, then exact reads as they come. */
export const SCRATCH_BYTES = 64 * 1024;

/**
 * The region of `size` bytes at `offset` of `disk`. With `scratch` (at least SPAN_BYTES long, owned
 * by the caller until it is done with the region and everything read through it), reads land in it
 * instead of in new buffers where the disk can read into a buffer, so probing a partition
 * allocates nothing.
 */
export function regionOf(disk: Disk, offset: number, size: number, scratch?: Uint8Array): Region {
  const usable = Math.max(0, Math.min(size, disk.size - offset));
  const cache = new Map<string, Uint8Array | null>();
  let arena = scratch && scratch.length >= SPAN_BYTES ? scratch : undefined;
  let free = SPAN_BYTES; // where the next exact read goes in the arena
  const spans = SPANS.map(([from, to], i) => ({
    from,
    to: Math.min(to, usable),
    at: SPAN_AT[i]!,
    got: -1, // bytes read so far; -1 until the span is read
  }));

  /** `length` bytes at region offset `at`, read in full, or null; into the arena when the disk allows. */
  const readExact = (at: number, length: number): Uint8Array | null => {
    if (disk.readInto && arena && free + length <= arena.length) {
      const into = arena.subarray(free, free + length);
      if (disk.readInto(into, offset + at) !== length) return null;
      free += length;
      return into;
    }
    const bytes = disk.readAt(offset + at, length);
    return bytes.length === length ? bytes : null;
  };

  /** The span's bytes for [at, at+length), or null when they are not in a span that was read whole. */
  const fromSpan = (at: number, length: number): Uint8Array | null => {
    let span: (typeof spans)[number] | undefined;
    for (const s of spans) if (at >= s.from && at + length <= s.to) span = s;
    if (!span) return null;
    arena ??= new Uint8Array(SPAN_BYTES);
    if (span.got < 0) {
      const into = arena.subarray(span.at, span.at + (span.to - span.from));
      try {
        if (disk.readInto) span.got = disk.readInto(into, offset + span.from);
        else {
          const bytes = disk.readAt(offset + span.from, into.length);
          into.set(bytes);
          span.got = bytes.length;
        }
      } catch {
        // An error in the span need not touch the bytes asked for: let the exact read decide.
        span.got = 0;
      }
    }
    const start = at - span.from;
    return start + length <= span.got ? arena.subarray(span.at + start, span.at + start + length) : null;
  };

  return {
    size: usable,
    read(at, length) {
      if (!Number.isSafeInteger(at) || !Number.isSafeInteger(length)) return null;
      if (at < 0 || length <= 0 || at + length > usable) return null;
      const spanned = fromSpan(at, length);
      if (spanned) return spanned;
      const key = `${at}:${length}`;
      if (cache.has(key)) return cache.get(key) ?? null;
      const result = readExact(at, length);
      cache.set(key, result);
      return result;
    },
  };
}
