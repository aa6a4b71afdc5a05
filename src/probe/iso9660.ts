import type { Region } from './region.js';
import { finishLabel, latin1, utf16Label } from './text.js';
import type { ContentInfo } from './types.js';

const DESCRIPTORS = 0x8000;
const SECTOR = 0x800;
const MAX_DESCRIPTORS = 16;
const TYPE_PRIMARY = 1;
const TYPE_SUPPLEMENTARY = 2;
const TYPE_END = 0xff;
const VOLUME_ID = 40; // 32 bytes
const ESCAPES = 88;
const CREATED = 813; // 17-byte dates: 16 digits + time-zone offset
const MODIFIED = 830;
const JOLIET_ESCAPES = ['%/@', '%/C', '%/E'];

const ascii = latin1;
const isUpper = (c: number) => c >= 0x41 && c <= 0x5a;
const upper = (c: number) => (c >= 0x61 && c <= 0x7a ? c - 32 : c);

/** `YYYY-MM-DD-hh-mm-ss-cc` from a descriptor date; undefined when the date is unset (all '0', no offset). */
function dateUuid(d: Uint8Array, off: number): string | undefined {
  const digits = ascii(d, off, 16);
  if (/^0{16}$/.test(digits) && d[off + 16] === 0) return undefined;
  return `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6, 8)}-${digits.slice(8, 10)}-${digits.slice(10, 12)}-${digits.slice(12, 14)}-${digits.slice(14, 16)}`;
}

/**
 * Joliet keeps at most 16 UTF-16 characters, the primary descriptor 32 ASCII ones with `_` for
 * what ASCII cannot hold. When Joliet's name is a prefix of the ASCII one (ignoring case and
 * `_`), the full name is rebuilt from both, as blkid does; otherwise null.
 */
function mergeJolietLabel(utf16: Uint8Array, asciiName: Uint8Array): string | null {
  const len = 32;
  const out: number[] = []; // UTF-16BE bytes
  let a = 0;
  let u = 0;
  for (; u + 1 < len && a < len; a++, u += 2) {
    if (
      utf16[u]! >= 0xd8 &&
      utf16[u]! <= 0xdb &&
      u + 3 < len &&
      utf16[u + 2]! >= 0xdc &&
      utf16[u + 2]! <= 0xdf
    ) {
      out.push(utf16[u]!, utf16[u + 1]!);
      u += 2;
    }
    const ac = asciiName[a]!;
    if (ac === 0x5f) out.push(utf16[u]!, utf16[u + 1]!);
    else if (utf16[u] === 0 && utf16[u + 1] === 0x5f) out.push(0, ac);
    else if (utf16[u] === 0 && upper(ac) === upper(utf16[u + 1]!))
      out.push(0, isUpper(ac) ? utf16[u + 1]! : ac);
    else return null;
  }
  for (; a < len; a++) out.push(0, asciiName[a]!);
  return utf16Label(Uint8Array.from(out), 0, out.length, false) ?? '';
}

/** ISO 9660 (with Joliet): label from the volume id, UUID from the modification (else creation) date. */
export function probeIso9660(region: Region): ContentInfo | null {
  const first = region.read(DESCRIPTORS, SECTOR);
  if (!first || ascii(first, 1, 5) !== 'CD001') return null;

  let primary: Uint8Array | null = null;
  let joliet: Uint8Array | null = null;
  for (let i = 0; i < MAX_DESCRIPTORS && !(primary && joliet); i++) {
    const d = i === 0 ? first : region.read(DESCRIPTORS + i * SECTOR, SECTOR);
    if (!d || d[0] === TYPE_END) break;
    if (!primary && d[0] === TYPE_PRIMARY) primary = d;
    else if (!joliet && d[0] === TYPE_SUPPLEMENTARY && JOLIET_ESCAPES.includes(ascii(d, ESCAPES, 3)))
      joliet = d;
  }
  if (!primary) return null;

  const info: ContentInfo = { type: 'iso9660', usage: 'filesystem', mountable: true };
  const uuid = dateUuid(primary, MODIFIED) ?? dateUuid(primary, CREATED);
  if (uuid) info.uuid = uuid;
  let label: string | undefined;
  if (joliet) {
    info.version = 'Joliet Extension';
    const jolietName = joliet.subarray(VOLUME_ID, VOLUME_ID + 32);
    const merged = mergeJolietLabel(jolietName, primary.subarray(VOLUME_ID, VOLUME_ID + 32));
    label = merged !== null ? finishLabel(merged) : utf16Label(jolietName, 0, 32, false);
  } else {
    label = finishLabel(ascii(primary, VOLUME_ID, 32).replace(/\0.*$/su, ''));
  }
  if (label) info.label = label;
  return info;
}
