/**
 * lvm2's rules for the names, UUIDs and segment types written in metadata text, shared by both
 * readers: the typed reader (metadata.ts) turns a failed test into its error message, the
 * one-pass reader (lvm2-layout.ts) into a fall-back to the general path.
 */
import type { OtherSegment } from './metadata.js';
import { formatLvmUuid } from './pv-header.js';

/** VG, LV and PV names: [A-Za-z0-9._+-], not starting with `-`, not `.` or `..`, under 128. */
export const isLvmName = (name: string): boolean =>
  /^[A-Za-z0-9._+][A-Za-z0-9._+-]{0,126}$/.test(name) && name !== '.' && name !== '..';

const CANONICAL_UUID = /^[0-9A-Za-z!#]{6}(?:-[0-9A-Za-z!#]{4}){5}-[0-9A-Za-z!#]{6}$/;

/**
 * An `id` as lvm2 prints it (6-4-4-4-4-4-6), from 32 characters of its UUID alphabet with dashes
 * anywhere; null when it is not one.
 */
export function lvmUuidOf(written: string): string | null {
  if (CANONICAL_UUID.test(written)) return written;
  const bare = written.replaceAll('-', '');
  return /^[0-9A-Za-z!#]{32}$/.test(bare) ? formatLvmUuid(bare) : null;
}

const OTHER_KINDS: ReadonlySet<string> = new Set([
  'thin',
  'thin-pool',
  'mirror',
  'snapshot',
  'cache',
  'cache-pool',
  'vdo',
  'vdo-pool',
  'writecache',
  'integrity',
  'error',
  'zero',
]);

/** The kind of a segment that is not striped, from its type without lvm2's `+FLAG` suffixes. */
export const otherSegmentKind = (type: string): OtherSegment['kind'] =>
  type.startsWith('raid') ? 'raid' : OTHER_KINDS.has(type) ? (type as OtherSegment['kind']) : 'unknown';
