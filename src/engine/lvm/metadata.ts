/**
 * A volume group's metadata text, parsed (config-text.ts) and read into typed data: the VG, its
 * PVs with their extent geometry, its LVs and their segments. Linear and striped segments are
 * read in full (their stripes, each a volume and a first extent); every other segment type is
 * recognised by name and keeps its section as written. Checks follow lvm2's import: required
 * fields, stripes that fit their PVs, and segments that cover each LV without gaps or overlaps.
 */
import { type ConfigScalar, type ConfigSection, type ConfigValue, parseConfigText } from './config-text.js';
import { DEFAULT_LVM_LIMITS, LvmError, type LvmLimits, printable, quoted } from './errors.js';
import { lvm2LayoutVolumeGroup } from './lvm2-layout.js';
import { isLvmName, lvmUuidOf, otherSegmentKind } from './names.js';

/** Units: extents and 512-byte sectors, as in the metadata. */
export interface VolumeGroupMetadata {
  name: string;
  id: string;
  seqno: number;
  status: string[];
  flags: string[];
  tags: string[];
  /** Sectors per extent. */
  extentSize: number;
  systemId: string | null;
  lockType: string | null;
  physicalVolumes: PhysicalVolumeMetadata[];
  logicalVolumes: LogicalVolumeMetadata[];
  /** Sum of the PVs' extents, and those no segment uses. */
  extentCount: number;
  freeExtents: number;
  /** From the text's trailer: what wrote it, where and when (seconds since 1970). */
  description: string | null;
  creationHost: string | null;
  creationTime: number | null;
}

export interface PhysicalVolumeMetadata {
  /** The key inside the metadata (`pv0`), which segments refer to. */
  name: string;
  id: string;
  /** The device the PV was last seen on when the metadata was written (`device = "/dev/sda2"`). */
  deviceHint: string | null;
  status: string[];
  flags: string[];
  tags: string[];
  /** Sectors, when recorded. */
  devSize: number | null;
  /** Sector of the first extent. */
  peStart: number;
  peCount: number;
}

export interface LogicalVolumeMetadata {
  name: string;
  id: string;
  status: string[];
  flags: string[];
  tags: string[];
  /** Shown by `lvs` without `-a` (hidden sub-volumes such as `_rimage_0`, `_tmeta` are not). */
  visible: boolean;
  creationHost: string | null;
  creationTime: number | null;
  extentCount: number;
  /** Ordered by start extent, covering 0..extentCount without gaps. */
  segments: SegmentMetadata[];
}

export type SegmentKind =
  | 'striped'
  | 'thin'
  | 'thin-pool'
  | 'raid'
  | 'mirror'
  | 'snapshot'
  | 'cache'
  | 'cache-pool'
  | 'vdo'
  | 'vdo-pool'
  | 'writecache'
  | 'integrity'
  | 'error'
  | 'zero'
  | 'unknown';

interface SegmentBase {
  /** Key of the segment's section (`segment1`). */
  name: string;
  startExtent: number;
  extentCount: number;
  /** The type as written, without lvm2's `+FLAG` suffixes (`striped`, `thin-pool`, `raid1`). */
  type: string;
}

/** One stripe: `extent` is the first extent of `volume`, a PV (`pv0`) or, for layered LVs, an LV. */
export interface SegmentArea {
  volume: string;
  onPv: boolean;
  extent: number;
}

/** `striped`, also for linear volumes (one stripe) and for segments written as `linear`. */
export interface StripedSegment extends SegmentBase {
  kind: 'striped';
  /** Sectors per chunk; null for a single stripe. */
  stripeSize: number | null;
  stripes: SegmentArea[];
  /** Extents each stripe holds: extentCount / stripes. */
  areaExtents: number;
}

/** Any other segment: its section as written (strings, numbers, arrays, nested objects). */
export interface OtherSegment extends SegmentBase {
  kind: Exclude<SegmentKind, 'striped'>;
  raw: RawSection;
}

export type SegmentMetadata = StripedSegment | OtherSegment;

export interface RawSection {
  [key: string]: ConfigValue | RawSection;
}

const CONTENTS = 'Text Format Volume Group';
/** lvm2 keeps at most 2^32-1 extents per PV and LV (uint32 fields). */
const MAX_EXTENTS = 0xffffffff;

/**
 * Parse a metadata text into typed VG data; LvmError names the first problem found. Text in lvm2's
 * own layout is read in one pass (lvm2-layout.ts); any other, and any with a problem, here.
 */
export function parseVolumeGroupMetadata(
  text: string,
  limits: LvmLimits = DEFAULT_LVM_LIMITS,
): VolumeGroupMetadata {
  return lvm2LayoutVolumeGroup(text, limits) ?? volumeGroupFromConfig(parseConfigText(text, limits));
}

export function volumeGroupFromConfig(root: ConfigSection): VolumeGroupMetadata {
  const contents = root.values.get('contents');
  if (contents !== CONTENTS) throw new LvmError(`metadata text: contents is not "${CONTENTS}"`);
  if (root.values.get('version') !== 1) throw new LvmError('metadata text: unknown format version');
  const first = root.sections.entries().next();
  if (first.done) throw new LvmError('metadata text: no volume group section');
  const [name, vg] = first.value;
  const where = `volume group ${validName(name, 'volume group')}`;
  const extentSize = integer(vg, 'extent_size', where, 1);
  // Map.forEach rather than spreading entries: this runs once per process, mostly in V8's
  // interpreter, where the iterator protocol costs more than the work itself.
  const physicalVolumes: PhysicalVolumeMetadata[] = [];
  section(vg, 'physical_volumes', where).sections.forEach((pv, pvName) => {
    physicalVolumes.push(physicalVolume(pvName, pv, where));
  });
  const pvs = new Map(physicalVolumes.map((pv) => [pv.name, pv]));
  const lvSections = optionalSection(vg, 'logical_volumes', where);
  const lvNames = new Set(lvSections ? lvSections.sections.keys() : []);
  const logicalVolumes: LogicalVolumeMetadata[] = [];
  lvSections?.sections.forEach((lv, lvName) => {
    logicalVolumes.push(logicalVolume(lvName, lv, where, pvs, lvNames));
  });
  const extentCount = physicalVolumes.reduce((sum, pv) => sum + pv.peCount, 0);
  return {
    name,
    id: uuid(vg, where),
    seqno: integer(vg, 'seqno', where, 0),
    status: stringList(vg, 'status', where, true),
    flags: stringList(vg, 'flags', where),
    tags: stringList(vg, 'tags', where),
    extentSize,
    systemId: optionalString(vg, 'system_id', where),
    lockType: optionalString(vg, 'lock_type', where),
    physicalVolumes,
    logicalVolumes,
    extentCount,
    freeExtents: extentCount - usedExtents(logicalVolumes, pvs, where),
    description: optionalString(root, 'description', 'metadata text'),
    creationHost: optionalString(root, 'creation_host', 'metadata text'),
    creationTime: optionalInteger(root, 'creation_time', 'metadata text'),
  };
}

function physicalVolume(name: string, pv: ConfigSection, vgWhere: string): PhysicalVolumeMetadata {
  const where = `${vgWhere}: physical volume ${validName(name, `${vgWhere}: physical volume`)}`;
  return {
    name,
    id: uuid(pv, where),
    deviceHint: optionalString(pv, 'device', where),
    status: stringList(pv, 'status', where, true),
    flags: stringList(pv, 'flags', where),
    tags: stringList(pv, 'tags', where),
    devSize: optionalInteger(pv, 'dev_size', where),
    peStart: integer(pv, 'pe_start', where, 0),
    peCount: integer(pv, 'pe_count', where, 0, MAX_EXTENTS),
  };
}

function logicalVolume(
  name: string,
  lv: ConfigSection,
  vgWhere: string,
  pvs: ReadonlyMap<string, PhysicalVolumeMetadata>,
  lvNames: ReadonlySet<string>,
): LogicalVolumeMetadata {
  const where = `${vgWhere}: logical volume ${validName(name, `${vgWhere}: logical volume`)}`;
  const status = stringList(lv, 'status', where, true);
  // Every subsection of an LV is a segment, as lvm2 reads it.
  const segments: SegmentMetadata[] = [];
  lv.sections.forEach((seg, segName) => {
    segments.push(segment(segName, seg, `${where}: ${printable(segName)}`, pvs, lvNames));
  });
  if (segments.length > 1) segments.sort((a, b) => a.startExtent - b.startExtent);
  const declared = integer(lv, 'segment_count', where, 0);
  if (declared !== segments.length) {
    throw new LvmError(`${where}: segment_count is ${declared} but ${segments.length} segments are written`);
  }
  let next = 0;
  for (const seg of segments) {
    if (seg.startExtent !== next) {
      const what = seg.startExtent > next ? 'a gap' : 'an overlap';
      throw new LvmError(
        `${where}: ${what} at extent ${Math.min(next, seg.startExtent)} before ${printable(seg.name)}`,
      );
    }
    next += seg.extentCount;
  }
  if (next > MAX_EXTENTS) throw new LvmError(`${where}: more than ${MAX_EXTENTS} extents`);
  return {
    name,
    id: uuid(lv, where),
    status,
    flags: stringList(lv, 'flags', where),
    tags: stringList(lv, 'tags', where),
    visible: status.includes('VISIBLE'),
    creationHost: optionalString(lv, 'creation_host', where),
    creationTime: optionalInteger(lv, 'creation_time', where),
    extentCount: next,
    segments,
  };
}

function segment(
  name: string,
  seg: ConfigSection,
  where: string,
  pvs: ReadonlyMap<string, PhysicalVolumeMetadata>,
  lvNames: ReadonlySet<string>,
): SegmentMetadata {
  const startExtent = integer(seg, 'start_extent', where, 0, MAX_EXTENTS);
  const extentCount = integer(seg, 'extent_count', where, 1, MAX_EXTENTS);
  const written = string(seg, 'type', where);
  // `raid1+RAID_FLAG…`: lvm2 stores some LV flags after a plus sign.
  const plus = written.indexOf('+');
  const type = plus < 0 ? written : written.slice(0, plus);
  const base = { name, startExtent, extentCount, type };
  if (type === 'striped' || type === 'linear') return striped(base, seg, where, pvs, lvNames);
  return { name, startExtent, extentCount, type, kind: otherSegmentKind(type), raw: rawSection(seg) };
}

function striped(
  base: SegmentBase,
  seg: ConfigSection,
  where: string,
  pvs: ReadonlyMap<string, PhysicalVolumeMetadata>,
  lvNames: ReadonlySet<string>,
): StripedSegment {
  const count = integer(seg, 'stripe_count', where, 1);
  const stripeSize = count > 1 ? integer(seg, 'stripe_size', where, 1) : null;
  if (base.extentCount % count !== 0) {
    throw new LvmError(`${where}: ${base.extentCount} extents do not divide into ${count} stripes`);
  }
  const areaExtents = base.extentCount / count;
  const list = seg.values.get('stripes');
  if (!Array.isArray(list)) throw new LvmError(`${where}: stripes is not a list`);
  if (list.length !== count * 2) {
    throw new LvmError(
      `${where}: stripes lists ${Math.floor(list.length / 2)} volumes, stripe_count says ${count}`,
    );
  }
  const stripes: SegmentArea[] = [];
  for (let i = 0; i < list.length; i += 2) {
    const volume = list[i];
    const extent = list[i + 1];
    if (typeof volume !== 'string' || !isCount(extent))
      throw new LvmError(`${where}: stripe ${i / 2 + 1} is malformed`);
    const pv = pvs.get(volume);
    if (pv) {
      if (extent + areaExtents > pv.peCount) {
        throw new LvmError(
          `${where}: stripe on ${volume} extents ${extent}-${extent + areaExtents - 1} lie past its ${pv.peCount} extents`,
        );
      }
    } else if (!lvNames.has(volume)) {
      throw new LvmError(`${where}: stripe on unknown volume ${quoted(volume)}`);
    }
    stripes.push({ volume, onPv: pv !== undefined, extent });
  }
  const { name, startExtent, extentCount, type } = base;
  return { name, startExtent, extentCount, type, kind: 'striped', stripeSize, stripes, areaExtents };
}

/** Extents the segments take on PVs: stripes, and mirror legs placed straight on PVs (pvmove). */
function usedExtents(
  lvs: readonly LogicalVolumeMetadata[],
  pvs: ReadonlyMap<string, PhysicalVolumeMetadata>,
  where: string,
): number {
  let used = 0;
  for (const lv of lvs) {
    for (const seg of lv.segments) {
      if (seg.kind === 'striped') {
        for (const stripe of seg.stripes) if (stripe.onPv) used += seg.areaExtents;
      } else if (seg.kind === 'mirror' && Array.isArray(seg.raw.mirrors)) {
        const legs = seg.raw.mirrors;
        for (let i = 0; i < legs.length; i += 2) {
          if (typeof legs[i] === 'string' && pvs.has(legs[i] as string)) used += seg.extentCount;
        }
      }
    }
  }
  let total = 0;
  pvs.forEach((pv) => {
    total += pv.peCount;
  });
  if (used > total) throw new LvmError(`${where}: segments use ${used} extents of ${total}`);
  return used;
}

function rawSection(section: ConfigSection): RawSection {
  // fromEntries defines own properties, so a key such as __proto__ stays plain data.
  return Object.fromEntries<ConfigValue | RawSection>([
    ...section.values,
    ...[...section.sections].map(([key, child]) => [key, rawSection(child)] as const),
  ]);
}

const isCount = (v: ConfigScalar | undefined): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function section(parent: ConfigSection, key: string, where: string): ConfigSection {
  const found = parent.sections.get(key);
  if (!found) throw new LvmError(`${where}: no ${key} section`);
  return found;
}

function optionalSection(parent: ConfigSection, key: string, where: string): ConfigSection | null {
  if (parent.values.has(key)) throw new LvmError(`${where}: ${key} is not a section`);
  return parent.sections.get(key) ?? null;
}

function validName(name: string, what: string): string {
  if (!isLvmName(name)) throw new LvmError(`${what} name ${printable(name)} is not a valid LVM name`);
  return name;
}

/** An `id`, returned as lvm2 prints it. */
function uuid(s: ConfigSection, where: string): string {
  const written = string(s, 'id', where);
  const id = lvmUuidOf(written);
  if (id === null) throw new LvmError(`${where}: id ${printable(written)} is not an LVM UUID`);
  return id;
}

function string(s: ConfigSection, key: string, where: string): string {
  const v = s.values.get(key);
  if (typeof v !== 'string') throw new LvmError(`${where}: ${v === undefined ? 'no' : 'malformed'} ${key}`);
  return v;
}

function optionalString(s: ConfigSection, key: string, where: string): string | null {
  return s.values.has(key) ? string(s, key, where) : null;
}

function integer(
  s: ConfigSection,
  key: string,
  where: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = s.values.get(key);
  if (v === undefined) throw new LvmError(`${where}: no ${key}`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new LvmError(
      `${where}: ${key} = ${typeof v === 'string' ? quoted(v) : Array.isArray(v) ? 'a list' : v} is not a whole number from ${min} to ${max}`,
    );
  }
  return v;
}

function optionalInteger(s: ConfigSection, key: string, where: string): number | null {
  return s.values.has(key) ? integer(s, key, where, 0) : null;
}

function stringList(s: ConfigSection, key: string, where: string, required = false): string[] {
  const v = s.values.get(key);
  if (v === undefined) {
    if (required) throw new LvmError(`${where}: no ${key}`);
    return [];
  }
  if (!Array.isArray(v)) throw new LvmError(`${where}: ${key} is not a list of strings`);
  for (const item of v)
    if (typeof item !== 'string') throw new LvmError(`${where}: ${key} is not a list of strings`);
  return v as string[];
}
