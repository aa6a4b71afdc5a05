/**
 * The one error the LVM reader throws for bad on-disk data: a message that names the structure and
 * what is wrong with it. Anything else that escapes is the disk's own I/O error.
 */
export class LvmError extends Error {
  override readonly name = 'LvmError';
}

/** Limits that keep hostile metadata from costing unbounded memory or time. */
export interface LvmLimits {
  /** Largest metadata text read from a metadata area, in bytes. */
  maxTextBytes: number;
  /** Deepest nesting of `name { … }` sections. */
  maxDepth: number;
  /** Most keys, sections and array items in one metadata text. */
  maxNodes: number;
  /** Most items in one array. */
  maxArrayItems: number;
}

/**
 * lvm2's default metadata area is 1 MiB and holds two copies at most; 16 MiB of text is far beyond
 * any real volume group (500 LVs take about 0.4 MiB). Real nesting is 4 deep (VG, list, LV,
 * segment). 500 000 nodes fit about 20 000 LVs.
 */
export const DEFAULT_LVM_LIMITS: LvmLimits = {
  maxTextBytes: 16 * 1024 * 1024,
  maxDepth: 16,
  maxNodes: 500_000,
  maxArrayItems: 65_536,
};

/**
 * A string from the metadata as it may appear in a message: as it is when it is plain printable
 * ASCII, else quoted. Hostile metadata cannot put escape sequences or line breaks into a message.
 */
export const printable = (s: string): string => (/^[\x20-\x7e]*$/.test(s) ? s : quoted(s));

/** `"…"` with quotes, backslashes and every character outside printable ASCII escaped. */
export const quoted = (s: string): string =>
  `"${s.replace(/["\\]/g, '\\$&').replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`)}"`;
