/**
 * The metadata text as lvm2 writes it into a metadata area, read straight into typed VG data in
 * one pass over its lines: one statement per line (`key = value`, `name {`, `}`), tabs before it
 * (as in backups), `#` comments on their own lines or after a value, strings without backslashes,
 * whole numbers, arrays of those, and segments without subsections. Anything else, and
 * anything lvm2's import refuses, gives null, and the caller runs the general path (config-text.ts
 * then metadata.ts), which reads every text lvm2 accepts and names what is wrong with the others.
 * So this reader never decides an error: it only has to give the general path's result for the
 * texts it takes, which test/lvm-layout.test.ts checks on lvm2's texts and mutations of them.
 *
 * Why a second reader: the metadata is read once per process, mostly in V8's interpreter, and
 * the general path's per-token regular expressions, tree of Maps and per-field lookups took
 * about 25 ms for a VG of 500 LVs. Here lines and strings are found with indexOf, a key is
 * compared once, and only the final objects are allocated.
 */
import { DEFAULT_LVM_LIMITS, type LvmLimits } from './errors.js';
import type {
  LogicalVolumeMetadata,
  OtherSegment,
  PhysicalVolumeMetadata,
  SegmentArea,
  SegmentMetadata,
  StripedSegment,
  VolumeGroupMetadata,
} from './metadata.js';
import { isLvmName, lvmUuidOf, otherSegmentKind } from './names.js';

type Scalar = string | number;
type Value = Scalar | Scalar[];

const TAB = 9;
const NEWLINE = 10;
const SPACE = 32;
const QUOTE = 34;
const HASH = 35;
const COMMA = 44;
const EQUALS = 61;
const ARRAY_OPEN = 91;
const ARRAY_CLOSE = 93;
const SECTION_OPEN = 123;
const SECTION_CLOSE = 125;

/** Where the reader is: the section kinds of a VG's text, by depth. */
const ROOT = 0;
const VG = 1;
const PV_LIST = 2;
const PV = 3;
const LV_LIST = 4;
const LV = 5;
const SEGMENT = 6;

const CONTENTS = 'Text Format Volume Group';
/** lvm2 keeps at most 2^32-1 extents per PV and LV (uint32 fields). */
const MAX_EXTENTS = 0xffffffff;
/** Numbers of up to 15 digits are exact as doubles; longer ones go to the general path. */
const MAX_DIGITS = 15;

/** The statements of the segment being read, kept for segments other than striped ones. */
const segmentKeys: string[] = [];
const segmentValues: Value[] = [];

/** Where the last value read ended (a second return value, without allocating a pair). */
let valueEnd = 0;

/** Digits from `at` as a number, or -1 when there are none or too many. */
function wholeAt(text: string, at: number): number {
  let n = 0;
  let i = at;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) n = n * 10 + c - 48;
  valueEnd = i;
  return i === at || i - at > MAX_DIGITS ? -1 : n;
}

/** The string opening at `at`, or null when it is not closed. */
function stringAt(text: string, at: number): string | null {
  const close = text.indexOf('"', at + 1);
  if (close < 0) return null;
  valueEnd = close + 1;
  return text.slice(at + 1, close);
}

/** Spaces and tabs from `at`, then the end of the line or a comment: what may follow a value. */
function onlyCommentFollows(text: string, at: number, lineEnd: number): boolean {
  let i = at;
  let c = text.charCodeAt(i);
  while (c === SPACE || c === TAB) c = text.charCodeAt(++i);
  return i === lineEnd || c === HASH;
}

/**
 * Items are gathered here and copied out at their exact length: an array grown by push from empty
 * reserves 17 slots, and most arrays here hold one to three items.
 */
const scratch: Scalar[] = [];

/** The array opening at `at` (`"pv0", 0` items, commas between them, lines anywhere), or null. */
function arrayAt(text: string, at: number, limits: LvmLimits, nodes: number): Scalar[] | null {
  let count = 0;
  let i = at + 1;
  let needComma = false;
  for (;;) {
    let c = text.charCodeAt(i);
    while (c === SPACE || c === NEWLINE || c === TAB) c = text.charCodeAt(++i);
    if (c === ARRAY_CLOSE) {
      valueEnd = i + 1;
      return scratch.slice(0, count);
    }
    if (needComma) {
      if (c !== COMMA) return null;
      needComma = false;
      i++;
      continue;
    }
    if (++nodes > limits.maxNodes || count >= limits.maxArrayItems) return null;
    if (c === QUOTE) {
      const s = stringAt(text, i);
      if (s === null) return null;
      scratch[count++] = s;
    } else {
      const n = wholeAt(text, i);
      if (n < 0) return null;
      scratch[count++] = n;
    }
    i = valueEnd;
    needComma = true;
  }
}

/** A key or section name the general tokenizer reads as one word (it stops at these characters). */
function isPlainWord(word: string): boolean {
  const first = word.charCodeAt(0);
  if (first === QUOTE || first === 39) return false;
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c <= SPACE || c === HASH || c === EQUALS || c === SECTION_OPEN || c === SECTION_CLOSE) return false;
  }
  return word.length > 0;
}

const isStringList = (v: Value | undefined): v is string[] => {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') return false;
  return true;
};

const isWhole = (v: Value | undefined, min: number, max = Number.MAX_SAFE_INTEGER): v is number =>
  typeof v === 'number' && v >= min && v <= max;

/** The VG of a text in lvm2's own layout, or null: then the general path must read it. */
export function lvm2LayoutVolumeGroup(
  text: string,
  limits: LvmLimits = DEFAULT_LVM_LIMITS,
): VolumeGroupMetadata | null {
  // Escapes and NULs (where the general parser stops) are the general path's.
  if (text.indexOf('\\') >= 0 || text.indexOf('\0') >= 0) return null;
  const end = text.length;
  let state = ROOT;
  let depth = 0;
  let nodes = 0;

  // Root level (the trailer after the VG section).
  let contents: Value | undefined;
  let version: Value | undefined;
  let description: Value | undefined;
  let creationHost: Value | undefined;
  let creationTime: Value | undefined;
  // The VG.
  let vgName: string | null = null;
  let vgClosed = false;
  let vgId: Value | undefined;
  let seqno: Value | undefined;
  let vgStatus: Value | undefined;
  let vgFlags: Value | undefined;
  let vgTags: Value | undefined;
  let extentSize: Value | undefined;
  let systemId: Value | undefined;
  let lockType: Value | undefined;
  let pvListSeen = false;
  let lvListSeen = false;
  const physicalVolumes: PhysicalVolumeMetadata[] = [];
  const pvs = new Map<string, PhysicalVolumeMetadata>();
  const logicalVolumes: LogicalVolumeMetadata[] = [];
  const lvNames = new Set<string>();
  /** Stripes on volumes that are not PVs: they must name an LV of the VG, checked at the end. */
  const layered: string[] = [];
  let used = 0;
  // The PV or LV being read (one set of fields serves both), and its segments.
  let name = '';
  let id: Value | undefined;
  let status: Value | undefined;
  let flags: Value | undefined;
  let tags: Value | undefined;
  let device: Value | undefined;
  let devSize: Value | undefined;
  let peStart: Value | undefined;
  let peCount: Value | undefined;
  let host: Value | undefined;
  let time: Value | undefined;
  let segmentCount: Value | undefined;
  /** The LV's segments so far, copied out at their exact length when it closes. */
  const segments: SegmentMetadata[] = [];
  let segmentsRead = 0;
  /** Their names, once there are two: a name written twice (libdm merges the sections) is the general path's. */
  const segmentNames = new Set<string>();
  // The segment being read.
  let segName = '';
  let startExtent: Value | undefined;
  let extentCount: Value | undefined;
  let type: Value | undefined;
  let stripeCount: Value | undefined;
  let stripeSize: Value | undefined;
  let stripes: Value | undefined;
  let segmentStatements = 0;

  const maxNodes = limits.maxNodes;
  const maxDepth = limits.maxDepth;
  let at = 0;
  while (at < end) {
    let lineEnd = text.indexOf('\n', at);
    if (lineEnd < 0) lineEnd = end;
    let c = text.charCodeAt(at);
    while (c === TAB) c = text.charCodeAt(++at);
    if (at === lineEnd || c === HASH) {
      at = lineEnd + 1;
      continue;
    }

    if (c === SECTION_CLOSE) {
      if (at + 1 !== lineEnd) return null;
      at = lineEnd + 1;
      depth--;
      if (state === SEGMENT) {
        if (!isWhole(startExtent, 0, MAX_EXTENTS) || !isWhole(extentCount, 1, MAX_EXTENTS)) return null;
        if (typeof type !== 'string') return null;
        // `raid1+FLAG`: lvm2 stores some LV flags after a plus sign.
        const plus = type.indexOf('+');
        const bare = plus < 0 ? type : type.slice(0, plus);
        let segment: SegmentMetadata | null;
        if (bare === 'striped' || bare === 'linear') {
          segment = stripedSegment(
            segName,
            startExtent,
            extentCount,
            bare,
            stripeCount,
            stripeSize,
            stripes,
            pvs,
            layered,
          );
          if (!segment) return null;
          for (let i = 0; i < segment.stripes.length; i++)
            if (segment.stripes[i]!.onPv) used += segment.areaExtents;
        } else {
          segment = otherSegment(segName, startExtent, extentCount, bare, segmentStatements);
          if (!segment) return null;
          // Mirror legs placed straight on PVs (pvmove) take their extents too.
          const legs = segment.kind === 'mirror' ? segment.raw.mirrors : undefined;
          if (Array.isArray(legs)) {
            for (let i = 0; i < legs.length; i += 2) {
              if (typeof legs[i] === 'string' && pvs.has(legs[i] as string)) used += extentCount;
            }
          }
        }
        segments[segmentsRead++] = segment;
        state = LV;
      } else if (state === LV) {
        const lv = logicalVolume(
          name,
          id,
          status,
          flags,
          tags,
          host,
          time,
          segmentCount,
          segments.slice(0, segmentsRead),
        );
        if (!lv) return null;
        logicalVolumes.push(lv);
        state = LV_LIST;
      } else if (state === PV) {
        if (!isStringList(status) || !isWhole(peStart, 0) || !isWhole(peCount, 0, MAX_EXTENTS)) return null;
        const pvId = typeof id === 'string' ? lvmUuidOf(id) : null;
        if (pvId === null) return null;
        if (device !== undefined && typeof device !== 'string') return null;
        if (devSize !== undefined && !isWhole(devSize, 0)) return null;
        if ((flags !== undefined && !isStringList(flags)) || (tags !== undefined && !isStringList(tags)))
          return null;
        const pv: PhysicalVolumeMetadata = {
          name,
          id: pvId,
          deviceHint: device ?? null,
          status,
          flags: flags ?? [],
          tags: tags ?? [],
          devSize: devSize ?? null,
          peStart,
          peCount,
        };
        physicalVolumes.push(pv);
        pvs.set(name, pv);
        state = PV_LIST;
      } else if (state === PV_LIST || state === LV_LIST) {
        state = VG;
      } else if (state === VG) {
        vgClosed = true;
        state = ROOT;
      } else return null;
      continue;
    }

    if (++nodes > maxNodes) return null;
    // `key = value`, or `name {` ending its line. Names with a space, or any other character the
    // general tokenizer would stop at, are refused below where they are checked.
    const equals = text.indexOf(' = ', at);
    if (equals < 0 || equals > lineEnd) {
      if (text.charCodeAt(lineEnd - 1) !== SECTION_OPEN || text.charCodeAt(lineEnd - 2) !== SPACE)
        return null;
      if (depth + 1 > maxDepth) return null;
      const key = text.slice(at, lineEnd - 2);
      at = lineEnd + 1;
      depth++;
      if (state === LV) {
        if (!isPlainWord(key)) return null;
        if (segmentsRead > 0) {
          // Names are looked up from the LV's second segment on (most LVs have one).
          if (segmentsRead === 1) {
            segmentNames.clear();
            segmentNames.add(segments[0]!.name);
          }
          if (segmentNames.has(key)) return null;
          segmentNames.add(key);
        }
        segName = key;
        startExtent = extentCount = type = stripeCount = stripeSize = stripes = undefined;
        segmentStatements = 0;
        state = SEGMENT;
      } else if (state === LV_LIST || state === PV_LIST) {
        if (!isLvmName(key)) return null;
        if (state === LV_LIST) {
          if (lvNames.has(key)) return null;
          lvNames.add(key);
          state = LV;
        } else {
          if (pvs.has(key)) return null;
          state = PV;
        }
        name = key;
        id = status = flags = tags = device = devSize = peStart = peCount = undefined;
        host = time = segmentCount = undefined;
        segmentsRead = 0;
      } else if (state === VG) {
        // lvm2 writes the PVs first; stripes are checked against them as they come.
        if (key === 'physical_volumes' && !pvListSeen && !lvListSeen) {
          pvListSeen = true;
          state = PV_LIST;
        } else if (key === 'logical_volumes' && pvListSeen && !lvListSeen) {
          lvListSeen = true;
          state = LV_LIST;
        } else return null;
      } else if (state === ROOT && vgName === null && isLvmName(key)) {
        vgName = key;
        state = VG;
      } else return null;
      continue;
    }

    const key = text.slice(at, equals);
    const valueAt = equals + 3;
    const first = text.charCodeAt(valueAt);
    let value: Value | null;
    if (first === QUOTE) value = stringAt(text, valueAt);
    else if (first === ARRAY_OPEN) value = arrayAt(text, valueAt, limits, nodes);
    else {
      const n = wholeAt(text, valueAt);
      value = n < 0 ? null : n;
    }
    if (value === null) return null;
    if (Array.isArray(value)) nodes += value.length;
    // A string or an array may run over several lines.
    if (valueEnd > lineEnd) {
      lineEnd = text.indexOf('\n', valueEnd);
      if (lineEnd < 0) lineEnd = end;
    }
    if (valueEnd !== lineEnd && !onlyCommentFollows(text, valueEnd, lineEnd)) return null;
    at = lineEnd + 1;

    // Each key lvm2's import reads, once: a repeated one (the last would win) is the general path's.
    if (state === SEGMENT) {
      // Every statement, in order: a segment of another type keeps them all as written.
      segmentKeys[segmentStatements] = key;
      segmentValues[segmentStatements++] = value;
      if (key === 'start_extent' && startExtent === undefined) startExtent = value;
      else if (key === 'extent_count' && extentCount === undefined) extentCount = value;
      else if (key === 'type' && type === undefined) type = value;
      else if (key === 'stripe_count' && stripeCount === undefined) stripeCount = value;
      else if (key === 'stripe_size' && stripeSize === undefined) stripeSize = value;
      else if (key === 'stripes' && stripes === undefined) stripes = value;
      else if (!isOtherKey(key, SEGMENT_KEYS)) return null;
    } else if (state === LV) {
      if (key === 'id' && id === undefined) id = value;
      else if (key === 'status' && status === undefined) status = value;
      else if (key === 'flags' && flags === undefined) flags = value;
      else if (key === 'creation_time' && time === undefined) time = value;
      else if (key === 'creation_host' && host === undefined) host = value;
      else if (key === 'segment_count' && segmentCount === undefined) segmentCount = value;
      else if (key === 'tags' && tags === undefined) tags = value;
      else if (!isOtherKey(key, LV_KEYS)) return null;
    } else if (state === PV) {
      if (key === 'id' && id === undefined) id = value;
      else if (key === 'device' && device === undefined) device = value;
      else if (key === 'status' && status === undefined) status = value;
      else if (key === 'flags' && flags === undefined) flags = value;
      else if (key === 'dev_size' && devSize === undefined) devSize = value;
      else if (key === 'pe_start' && peStart === undefined) peStart = value;
      else if (key === 'pe_count' && peCount === undefined) peCount = value;
      else if (key === 'tags' && tags === undefined) tags = value;
      else if (!isOtherKey(key, PV_KEYS)) return null;
    } else if (state === VG) {
      if (key === 'id' && vgId === undefined) vgId = value;
      else if (key === 'seqno' && seqno === undefined) seqno = value;
      else if (key === 'status' && vgStatus === undefined) vgStatus = value;
      else if (key === 'flags' && vgFlags === undefined) vgFlags = value;
      else if (key === 'extent_size' && extentSize === undefined) extentSize = value;
      else if (key === 'tags' && vgTags === undefined) vgTags = value;
      else if (key === 'system_id' && systemId === undefined) systemId = value;
      else if (key === 'lock_type' && lockType === undefined) lockType = value;
      else if (!isOtherKey(key, VG_KEYS)) return null;
    } else if (state === ROOT) {
      if (key === 'contents' && contents === undefined) contents = value;
      else if (key === 'version' && version === undefined) version = value;
      else if (key === 'description' && description === undefined) description = value;
      else if (key === 'creation_host' && creationHost === undefined) creationHost = value;
      else if (key === 'creation_time' && creationTime === undefined) creationTime = value;
      else if (!isOtherKey(key, ROOT_KEYS)) return null;
    } else return null;
  }

  if (state !== ROOT || !vgClosed || vgName === null || !pvListSeen) return null;
  if (contents !== CONTENTS || version !== 1) return null;
  for (let i = 0; i < layered.length; i++) if (!lvNames.has(layered[i]!)) return null;
  const vgUuid = typeof vgId === 'string' ? lvmUuidOf(vgId) : null;
  if (vgUuid === null || !isWhole(seqno, 0) || !isWhole(extentSize, 1) || !isStringList(vgStatus))
    return null;
  if ((vgFlags !== undefined && !isStringList(vgFlags)) || (vgTags !== undefined && !isStringList(vgTags)))
    return null;
  if (!isOptionalString(systemId) || !isOptionalString(lockType)) return null;
  if (!isOptionalString(description) || !isOptionalString(creationHost)) return null;
  if (creationTime !== undefined && !isWhole(creationTime, 0)) return null;
  let extentTotal = 0;
  for (let i = 0; i < physicalVolumes.length; i++) extentTotal += physicalVolumes[i]!.peCount;
  if (used > extentTotal) return null;
  return {
    name: vgName,
    id: vgUuid,
    seqno,
    status: vgStatus,
    flags: vgFlags ?? [],
    tags: vgTags ?? [],
    extentSize,
    systemId: systemId ?? null,
    lockType: lockType ?? null,
    physicalVolumes,
    logicalVolumes,
    extentCount: extentTotal,
    freeExtents: extentTotal - used,
    description: description ?? null,
    creationHost: creationHost ?? null,
    creationTime: creationTime ?? null,
  };
}

const isOptionalString = (v: Value | undefined): v is string | undefined =>
  v === undefined || typeof v === 'string';

/**
 * Keys that section's reader reads: met again (a repeat) they go to the general path. Any other
 * key is ignored, as lvm2's import ignores it, once it is a word the general tokenizer reads whole.
 */
const ROOT_KEYS = new Set(['contents', 'version', 'description', 'creation_host', 'creation_time']);
const VG_KEYS = new Set([
  'id',
  'seqno',
  'status',
  'flags',
  'tags',
  'extent_size',
  'system_id',
  'lock_type',
  // The general reader refuses a value of these names beside the sections.
  'physical_volumes',
  'logical_volumes',
]);
const PV_KEYS = new Set(['id', 'device', 'status', 'flags', 'tags', 'dev_size', 'pe_start', 'pe_count']);
const LV_KEYS = new Set(['id', 'status', 'flags', 'tags', 'creation_host', 'creation_time', 'segment_count']);
const SEGMENT_KEYS = new Set([
  'start_extent',
  'extent_count',
  'type',
  'stripe_count',
  'stripe_size',
  'stripes',
]);

const isOtherKey = (key: string, read: ReadonlySet<string>) => !read.has(key) && isPlainWord(key);

/** A segment of any type but striped: its section as written, as the general reader keeps it. */
function otherSegment(
  name: string,
  startExtent: number,
  extentCount: number,
  type: string,
  statements: number,
): OtherSegment | null {
  const entries: [string, Value][] = [];
  const seen = new Set<string>();
  for (let i = 0; i < statements; i++) {
    const key = segmentKeys[i]!;
    // A key written twice (the last would win, in the first one's place) is the general path's.
    if (seen.has(key)) return null;
    seen.add(key);
    entries.push([key, segmentValues[i]!]);
  }
  // fromEntries defines own properties, so a key such as __proto__ stays plain data.
  return {
    name,
    startExtent,
    extentCount,
    type,
    kind: otherSegmentKind(type),
    raw: Object.fromEntries(entries),
  };
}

function logicalVolume(
  name: string,
  id: Value | undefined,
  status: Value | undefined,
  flags: Value | undefined,
  tags: Value | undefined,
  host: Value | undefined,
  time: Value | undefined,
  segmentCount: Value | undefined,
  segments: SegmentMetadata[],
): LogicalVolumeMetadata | null {
  if (!isStringList(status) || segmentCount !== segments.length) return null;
  if (segments.length > 1) segments.sort((a, b) => a.startExtent - b.startExtent);
  let next = 0;
  for (let i = 0; i < segments.length; i++) {
    if (segments[i]!.startExtent !== next) return null;
    next += segments[i]!.extentCount;
  }
  if (next > MAX_EXTENTS) return null;
  const lvId = typeof id === 'string' ? lvmUuidOf(id) : null;
  if (lvId === null) return null;
  if ((flags !== undefined && !isStringList(flags)) || (tags !== undefined && !isStringList(tags)))
    return null;
  if (!isOptionalString(host) || (time !== undefined && !isWhole(time, 0))) return null;
  return {
    name,
    id: lvId,
    status,
    flags: flags ?? [],
    tags: tags ?? [],
    visible: status.includes('VISIBLE'),
    creationHost: host ?? null,
    creationTime: time ?? null,
    extentCount: next,
    segments,
  };
}

function stripedSegment(
  name: string,
  startExtent: number,
  extentCount: number,
  type: string,
  count: Value | undefined,
  size: Value | undefined,
  list: Value | undefined,
  pvs: ReadonlyMap<string, PhysicalVolumeMetadata>,
  layered: string[],
): StripedSegment | null {
  if (!isWhole(count, 1) || (count > 1 && !isWhole(size, 1)) || extentCount % count !== 0) return null;
  if (!Array.isArray(list) || list.length !== count * 2) return null;
  const areaExtents = extentCount / count;
  const areas: SegmentArea[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const volume = list[2 * i];
    const extent = list[2 * i + 1];
    if (typeof volume !== 'string' || typeof extent !== 'number') return null;
    const pv = pvs.get(volume);
    if (pv) {
      if (extent + areaExtents > pv.peCount) return null;
    } else layered.push(volume);
    areas[i] = { volume, onPv: pv !== undefined, extent };
  }
  return {
    name,
    startExtent,
    extentCount,
    type,
    kind: 'striped',
    stripeSize: count > 1 ? (size as number) : null,
    stripes: areas,
    areaExtents,
  };
}
