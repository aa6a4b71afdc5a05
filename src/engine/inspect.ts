import { errorText } from './errors.js';

/**
 * Everything known about one source, as data: the table, every partition with all its fields,
 * the maps `-a` would create (names and tables exactly), which backend would make them, the maps
 * that exist now, and what each partition holds. `kpartx-tui --json` prints it and the
 * interactive app draws it. Inspecting never attaches a loop device or changes anything.
 */

import { type DevNo, formatDevNo } from '../io/devno.js';
import type { Disk } from '../io/disk.js';
import { pageCachedDisk } from '../io/file-disk.js';
import { probeContent } from '../probe/index.js';
import type { ContentInfo } from '../probe/types.js';
import type { BackendKind, ExistingMap, MapBackend, ParentDevice, PlannedMap } from './backend.js';
import { chooseBackendKind, chooseBackendKindFor } from './backends/select.js';
import type { Machine } from './machine.js';
import { partitionName, resolveDelimiter } from './names.js';
import type { PartitionTable, PartitionTypeInfo, Slot, SlotKind, TableType } from './partition.js';
import { mappableSlots, PlanError, pastEndMessage, planMaps, slotEnd } from './plan.js';
import { openSourceDisk, type ResolvedSource, resolveSourceWith, SourceError } from './source.js';
import {
  type Attach,
  type ContainerLayer,
  findFilesystemSystem,
  lvmPlaces,
  openContainerLayer,
  type PlacedPvCandidate,
  partitionAttach,
  readLvmAcrossSources,
  readLvmLayers,
  readPvCandidates,
  type StackNode,
  type SystemFinding,
  type SystemLayer,
  stackTree,
  type VolumeGroupLayer,
  windowDisk,
} from './stack/index.js';
import { readPartitionTable } from './tables/index.js';

export interface InspectOptions {
  /** `-p`; undefined means the digit rule. */
  delimiter?: string;
  /** `-r`: the planned maps are read-only. */
  readOnly?: boolean;
  /** `-g` */
  forceGpt?: boolean;
  /** `-t`: only this table format. */
  only?: string;
  /** `--backend`; automatic when absent. */
  backendKind?: BackendKind;
  /** The backend choice made once for a batch; decided from `kernel` per source when absent. */
  backendDecision?: BackendDecision;
  /** The backend to ask for existing maps; none asked when absent. */
  backend?: MapBackend;
  /** Detect what each partition holds (default true). */
  probe?: boolean;
  /** Where files and devices are read (a batch's memoizing view of the machine); the machine when absent. */
  host?: Machine;
  /** Set by inspectSources: PVs are gathered here and their VGs assembled across all sources. */
  across?: AcrossSources;
}

/** The PVs of several sources, kept readable until their VGs are assembled together. */
interface AcrossSources {
  entries: { report: SourceReport; candidates: PlacedPvCandidate[]; restack: () => void }[];
  closers: (() => void)[];
}

/** A map `-a` would create, with the exact device-mapper table line. */
export interface PlannedMapReport extends PlannedMap {
  /** `0 <size> linear <parent maj:min> <start>` */
  table: string;
  /** Where the map's block device appears: `/dev/mapper/<dm name>` for both backends. */
  path: string;
}

export interface PartitionReport {
  number: number;
  /** 512-byte sectors, absolute on the device. */
  start: number;
  size: number;
  /** Last sector, inclusive. */
  end: number;
  kind: SlotKind;
  type?: PartitionTypeInfo;
  /** GPT or Mac partition name. */
  name?: string;
  /** GPT unique partition GUID. */
  uuid?: string;
  /** GPT attribute bits, 0x-prefixed hex. */
  attributes?: string;
  bootable: boolean;
  /** An extended partition's whole length, 512-byte sectors (`size` is only what its map covers). */
  extent?: number;
  /** Number of the containing partition (the extended one for a logical), or null. */
  parent: number | null;
  /** Past the end of the device: listed, but never mapped. */
  pastEnd: boolean;
  /** What `-a` would create for it; null when it cannot be mapped. */
  map: PlannedMapReport | null;
  /** The map that exists for this partition now, if any. */
  existing: ExistingMap | null;
  /** What the partition holds, when probing found something. */
  content: ContentInfo | null;
  /** The Linux root on its filesystem, read without mounting (ext2/3/4); never a hash. */
  system: SystemLayer | null;
  /** Why nothing is said of its system: `btrfs is not read without mounting…`, a damaged filesystem. */
  systemNote: string | null;
  /** How it can be attached: `partition map`, or `needs nbd` inside a container. */
  attach: Attach;
}

export interface SourceReport {
  /** The operand as given. */
  source: string;
  /** The whole-disk device: the operand, or `/dev/loopN` for an image. */
  device: string | null;
  /** For an image: its real path and the loop used (`found` = already bound, `predicted` = next free). */
  image: { file: string; loop: string; loopState: 'found' | 'predicted' | 'attached' } | null;
  devno: DevNo | null;
  sizeBytes: number;
  sizeSectors: number;
  /** Logical sector size of the device. */
  sectorSize: number;
  /** Base of the partition map names and the delimiter `-a` would use. */
  mapName: string | null;
  delimiter: string | null;
  /** The UUID partition map UUIDs derive from. */
  parentUuid: string | null;
  table: { type: TableType; diskId: string | null; sectorSize: number } | null;
  partitions: PartitionReport[];
  /** The maps `-a` would create, in creation order; empty when it would refuse. */
  maps: PlannedMapReport[];
  /** Why `-a` would refuse (partitions past the end, names too long); empty when it would not. */
  problems: string[];
  /** Table reader diagnostics (the C tool's stderr lines). */
  warnings: string[];
  backend: BackendKind | null;
  /** Why no backend can make maps here, when none can. */
  backendProblem: string | null;
  /** Maps of this device that exist now. */
  existing: ExistingMap[];
  /** What the whole device holds when it has no partition table (a bare filesystem image…). */
  content: ContentInfo | null;
  /** The system on that whole-device filesystem, as for a partition. */
  system: SystemLayer | null;
  systemNote: string | null;
  /** Set when the source could not be read at all; every other field is then empty. */
  error: string | null;
  /**
   * The VM disk container the source is (qcow2, VMDK…), when it is one: the table, partitions and
   * contents above are then those of the guest's disk, read through it, and nothing maps from the
   * file's own bytes (see `attach`).
   */
  container: ContainerLayer | null;
  /** LVM volume groups assembled from the PVs among the partitions (or the whole disk). */
  volumeGroups: VolumeGroupLayer[];
  /** The same as one tree: source → container → table → partitions → volume groups → volumes. */
  stack: StackNode | null;
}

const mapPath = (kernelName: string): string => `/dev/mapper/${kernelName}`;

/** Which backend `-a` would use here, or why none can. */
export interface BackendDecision {
  backend: BackendKind | null;
  problem: string | null;
}

export function decideBackend(
  kernel: Machine | undefined,
  requested: BackendKind | undefined,
  host: Pick<Machine, 'loop'>,
): BackendDecision {
  if (!kernel) return { backend: null, problem: 'kernel interface not loaded' };
  try {
    return {
      backend: chooseBackendKind(kernel, { requested, loopAvailable: host.loop.available() }),
      problem: null,
    };
  } catch (error) {
    return { backend: null, problem: errorText(error) };
  }
}

/**
 * The same decision without opening device-mapper: from /proc/misc, as a prediction (a
 * device-mapper without the linear target is told apart only by the kernel).
 */
export function predictBackend(
  requested: BackendKind | undefined,
  host: Pick<Machine, 'loop' | 'deviceMapperPresent'>,
): BackendDecision {
  try {
    return {
      backend: chooseBackendKindFor(host.deviceMapperPresent(), {
        requested,
        loopAvailable: host.loop.available(),
      }),
      problem: null,
    };
  } catch (error) {
    return { backend: null, problem: errorText(error) };
  }
}

function emptyReport(source: string, error: string): SourceReport {
  return {
    source,
    device: null,
    image: null,
    devno: null,
    sizeBytes: 0,
    sizeSectors: 0,
    sectorSize: 0,
    mapName: null,
    delimiter: null,
    parentUuid: null,
    table: null,
    partitions: [],
    maps: [],
    problems: [],
    warnings: [],
    backend: null,
    backendProblem: null,
    existing: [],
    content: null,
    system: null,
    systemNote: null,
    error,
    container: null,
    volumeGroups: [],
    stack: null,
  };
}

export function plannedMapReport(map: PlannedMap, parentDevno: DevNo): PlannedMapReport {
  return {
    ...map,
    table: `0 ${map.size} linear ${formatDevNo(parentDevno)} ${map.start}`,
    path: mapPath(map.kernelName),
  };
}

function safeProbe(disk: Disk, start: number, size: number): ContentInfo | null {
  try {
    return probeContent(disk, start * 512, size * 512);
  } catch {
    return null;
  }
}

/** The system on the filesystem at `start` (sectors); a read error is its note, not the source's error. */
const safeSystem = (disk: Disk, start: number, size: number, content: ContentInfo | null): SystemFinding =>
  findFilesystemSystem(windowDisk(disk, start * 512, size * 512), content);

/**
 * Inspect one source. `kernel` may be undefined for image files that are only listed (no block
 * device ioctls, no backend); a block device operand then reports an error.
 */
export function inspectSource(
  path: string,
  kernel: Machine | undefined,
  options: InspectOptions = {},
): SourceReport {
  const host = options.host ?? kernel;
  if (!host) return emptyReport(path, 'no host to read from');
  let source: ResolvedSource;
  try {
    const resolved = resolveSourceWith(path, 'list', { readOnly: options.readOnly ?? false }, host);
    if ('nothing' in resolved) return emptyReport(path, 'nothing to inspect');
    source = resolved;
  } catch (error) {
    return emptyReport(path, error instanceof SourceError ? error.message : errorText(error));
  }
  const { parent } = source;
  const report: SourceReport = {
    ...emptyReport(path, ''),
    error: null,
    device: parent.path,
    image:
      parent.image && source.loop
        ? { file: parent.image.file, loop: source.loop.path, loopState: source.loop.state }
        : null,
    devno: parent.devno,
    sizeBytes: source.read.sizeBytes,
    sizeSectors: parent.sizeSectors,
    sectorSize: parent.logicalSectorSize,
    mapName: parent.mapName,
    delimiter: resolveDelimiter(parent.mapName, options.delimiter),
    parentUuid: parent.uuid,
  };

  const decision = options.backendDecision ?? decideBackend(kernel, options.backendKind, host);
  report.backend = decision.backend;
  report.backendProblem = decision.problem;
  // A predicted loop does not exist yet, so nothing can be mapped from it.
  if (options.backend && source.loop?.state !== 'predicted') {
    try {
      report.existing = options.backend.existing(parent);
    } catch (error) {
      report.warnings.push(`${parent.path}: cannot list existing maps: ${errorText(error)}`);
    }
  }

  let disk: ReturnType<typeof openSourceDisk>;
  try {
    disk = pageCachedDisk(openSourceDisk(source, host));
  } catch (error) {
    return { ...report, error: errorText(error) };
  }
  let opened: ReturnType<typeof openContainerLayer> = null;
  try {
    opened = openContainerLayer(disk, path, parent.image?.file);
    report.container = opened?.layer ?? null;
    // A container's own bytes are not the guest's disk: read its table through it.
    const guest = opened ? opened.guest : disk;
    const mappable = !opened || opened.layer.attach.method === 'partition-map';
    if (opened && !mappable && !opened.layer.readable)
      report.problems.push(
        `${path}: ${opened.layer.problem ?? `${opened.layer.description}: its disk is not read here`}`,
      );
    const restack = () => {
      report.stack = stackTree({
        source: path,
        sizeSectors: parent.sizeSectors,
        container: report.container,
        diskSectors: guest ? Math.floor(guest.size / 512) : 0,
        table: report.table,
        partitions: report.partitions,
        content: report.content,
        system: report.system,
        volumeGroups: report.volumeGroups,
      });
    };
    if (guest) readLayers(report, guest, parent, options, mappable, restack);
    restack();
    return report;
  } catch (error) {
    // An I/O error half-way: say so for this source, the others still get inspected.
    return { ...report, error: errorText(error) };
  } finally {
    const close = () => {
      opened?.close();
      disk.close();
    };
    // PVs gathered for the cross-source assembly are read through these disks later.
    if (options.across?.entries.some((e) => e.report === report)) options.across.closers.push(close);
    else close();
  }
}

/**
 * Inspect several sources; with more than one, their VGs are assembled across all of them, so a
 * VG whose PVs lie on different images is complete (its LVs read through every image) and a PV
 * none of them holds is named missing. One source is inspected exactly as inspectSource does.
 */
export function inspectSources(
  paths: readonly string[],
  kernel: Machine | undefined,
  options: InspectOptions = {},
): SourceReport[] {
  if (paths.length <= 1 || options.probe === false)
    return paths.map((path) => inspectSource(path, kernel, options));
  const across: AcrossSources = { entries: [], closers: [] };
  try {
    const reports = paths.map((path) => inspectSource(path, kernel, { ...options, across }));
    if (across.entries.length === 0) return reports;
    try {
      const layers = readLvmAcrossSources(
        across.entries.map((e) => ({ source: e.report.source, candidates: e.candidates })),
      );
      for (const { report, restack } of across.entries) {
        const lvm = layers.get(report.source)!;
        report.volumeGroups = lvm.volumeGroups;
        report.warnings.push(...lvm.warnings);
        if (report.error === null) restack();
      }
    } catch (error) {
      for (const { report } of across.entries)
        report.warnings.push(`cannot assemble volume groups across the sources: ${errorText(error)}`);
    }
    return reports;
  } finally {
    for (const close of across.closers) close();
  }
}

/** Table, partitions, contents and volume groups of `disk` (the source's, or a container's guest disk). */
function readLayers(
  report: SourceReport,
  disk: Disk,
  parent: ParentDevice,
  options: InspectOptions,
  mappable: boolean,
  restack: () => void,
): void {
  const sizeSectors = Math.floor(disk.size / 512);
  const table = readPartitionTable(disk, {
    only: options.only,
    forceGpt: options.forceGpt ?? false,
    warn: (line) => report.warnings.push(line),
  });
  if (!table) {
    if (options.probe !== false) {
      report.content = safeProbe(disk, 0, sizeSectors);
      Object.assign(report, safeSystem(disk, 0, sizeSectors, report.content));
    }
  } else {
    describeTable(report, table, { ...parent, sizeSectors }, options, disk, mappable);
  }
  // Volume groups need the probe's word on which partitions hold PVs.
  if (options.probe === false) return;
  const places = lvmPlaces(report.partitions, report.table ? null : { content: report.content, sizeSectors });
  if (places.length === 0) return;
  if (options.across) {
    const read = readPvCandidates(disk, report.source, places);
    report.warnings.push(...read.warnings);
    if (read.candidates.length > 0)
      options.across.entries.push({ report, candidates: read.candidates, restack });
    return;
  }
  const lvm = readLvmLayers(disk, report.source, places);
  report.volumeGroups = lvm.volumeGroups;
  report.warnings.push(...lvm.warnings);
}

function describeTable(
  report: SourceReport,
  table: PartitionTable,
  parent: ParentDevice,
  options: InspectOptions,
  disk: Disk,
  /** False inside a container only qemu-nbd can present: nothing maps from the file's bytes. */
  mappable: boolean,
): void {
  report.table = { type: table.type, diskId: table.diskId ?? null, sectorSize: table.sectorSize };
  let planned: PlannedMap[] = [];
  try {
    planned = planMaps(table, parent, { delimiter: options.delimiter, readOnly: options.readOnly ?? false });
  } catch (error) {
    if (!(error instanceof PlanError)) throw error;
    report.problems = error.problems;
  }
  const delimiter = report.delimiter ?? '';
  const planOne = (slot: Slot): PlannedMap | undefined => {
    try {
      return planMaps({ ...table, slots: [slot] }, parent, {
        delimiter: options.delimiter,
        readOnly: options.readOnly ?? false,
      })[0];
    } catch {
      return undefined;
    }
  };
  const existingByNumber = new Map(report.existing.map((map) => [map.number, map]));
  if (!mappable) {
    planned = [];
    report.problems.push(
      `${report.source} is a ${report.container?.format ?? 'container'} image: its partitions are mapped through qemu-nbd (nbd), not from the file's bytes`,
    );
  }
  report.maps = planned.map((map) => plannedMapReport(map, parent.devno));

  for (const slot of mappableSlots(table).sort((a, b) => a.number - b.number)) {
    const pastEnd = slotEnd(slot) > parent.sizeSectors;
    // Each partition's own map, also when the whole plan is refused, so a preview can show names.
    const map = pastEnd || !mappable ? undefined : planOne(slot);
    if (pastEnd) {
      const name = partitionName(parent.mapName, delimiter, slot.number);
      report.warnings.push(`warning: ${pastEndMessage(name, slot, parent.path, parent.sizeSectors)}`);
    }
    const probe = options.probe !== false && slot.kind !== 'extended' && !pastEnd;
    const content = probe ? safeProbe(disk, slot.start, slot.size) : null;
    report.partitions.push({
      number: slot.number,
      start: slot.start,
      size: slot.size,
      end: slotEnd(slot) - 1,
      kind: slot.kind,
      ...(slot.type ? { type: slot.type } : {}),
      ...(slot.name !== undefined ? { name: slot.name } : {}),
      ...(slot.uuid !== undefined ? { uuid: slot.uuid } : {}),
      ...(slot.attributes !== undefined ? { attributes: slot.attributes } : {}),
      bootable: slot.bootable ?? false,
      ...(slot.extent !== undefined ? { extent: slot.extent } : {}),
      parent: slot.container === 0 ? null : slot.container,
      pastEnd,
      map: map ? plannedMapReport(map, parent.devno) : null,
      existing: existingByNumber.get(slot.number) ?? null,
      content,
      ...safeSystem(disk, slot.start, slot.size, content),
      attach: partitionAttach(!mappable, pastEnd),
    });
  }
}
