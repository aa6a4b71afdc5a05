/**
 * The TUI's adapter over the engine: source resolution, table reading, planning, the backends and
 * the mount session, turned into the view-model of model.ts. No React here; the container hook
 * calls these functions and renders what they return and emit.
 */
import { readdirSync, realpathSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type {
  BackendKind,
  EmitEvent,
  ExistingMap,
  MapBackend,
  MapEvent,
  ParentDevice,
} from '../engine/backend.js';
import { createLoopBackend } from '../engine/backends/loop.js';
import { chooseBackendKind, dmUsable, loadBackend } from '../engine/backends/select.js';
import { defaultRawPath, prepareConvert } from '../engine/convert.js';
import { errorText } from '../engine/errors.js';
import { loopsOver, openByProcess } from '../engine/holders.js';
import { inspectSource, inspectSources, predictBackend } from '../engine/inspect.js';
import type { Machine } from '../engine/machine.js';
import { isInside } from '../engine/mountpoint.js';
import { unmangleDmName } from '../engine/names.js';
import type { Slot, TableType } from '../engine/partition.js';
import { createSession, undoMount } from '../engine/session.js';
import { deferSignals } from '../engine/signals.js';
import { resolveSource } from '../engine/source.js';
import {
  containerAddRefusal,
  openContainerLayer,
  readLvmLayers,
  type SystemLayer,
  type VolumeGroupLayer,
} from '../engine/stack/index.js';
import {
  nothingRemains,
  type SourceRemains,
  type TeardownEvent,
  tearDown as tearDownSource,
  teardownSummary,
  whatRemains,
} from '../engine/teardown.js';
import type { WorkflowEvent } from '../engine/workflow/events.js';
import { luksActivationWarning, wholeDiskActivationWarning } from '../engine/workflow/lv-activation.js';
import { lvDevicesOver } from '../engine/workflow/lv-run.js';
import { type MapAction, type MapRunRequest, runMaps } from '../engine/workflow/map-run.js';
import {
  createOverlay,
  defaultOverlayPath,
  endOverlay,
  overlayProblem,
  planOverlay,
} from '../engine/workflow/overlay.js';
import { type DevNo, formatDevNo, sameDevNo } from '../io/devno.js';
import { decodeUtf8Visibly } from '../io/display-text.js';
import { createMachine } from '../kernel/machine.js';
import { convertToRaw, hostConvertFs } from '../kernel/qemu-img.js';
import { type ContentInfo, describeContent, hintFor, mountTypeFor, probeContent } from '../probe/index.js';
import { hiberfilState } from '../recovery/hibernation.js';
import { listDirectory } from './list-directory.js';
import { createLuksVolumes, luksOffered } from './luks-volumes.js';
import { createLvVolumes, type LvRowHelpers } from './lv-volumes.js';
import type {
  ExistingMapView,
  Inspection,
  Leftover,
  MapOptions,
  MountChoice,
  MountView,
  OpOutcome,
  OverlayView,
  PartitionRow,
  PreviewMap,
  ProgressEvent,
  RemainsView,
  SourceEntry,
  TuiEngine,
} from './model.js';
import { TuiError } from './model.js';
import { sessionRequest } from './mount-choice.js';
import { openProblem } from './open-problem.js';
import { treeOrder } from './partition-order.js';
import { createRecoveryEngine, type RecoveryDeps } from './recovery-engine.js';
import { ntfsWriteRefusal, readOnlyMapWhy } from './recovery-mount.js';
import { userEnvironment } from './shell-env.js';
import { listSources, summarizeImage } from './sources.js';
import { containerView, systemView, volumeGroupRows } from './stack-view.js';

export interface TuiEngineDeps {
  /** The machine to drive; the real one when absent. */
  machine?: Machine;
  /** Where the mount session makes mountpoints. */
  mountRoot?: string;
  /** Directory scanned for image files. */
  cwd?: string;
  /** What `~` means in a typed path: the user's home, as the app was started, by default. */
  home?: string;
  isRoot?: boolean;
  /** Builds the backend of a kind (tests wrap one to fail on purpose). */
  backend?: (kind: BackendKind, machine: Machine) => MapBackend | Promise<MapBackend>;
  /** The host's crypt library, xattr calls and clock for password resets (the host's by default). */
  /** Overrides of the machine's crypt library, xattrs and today's date, for tests. */
  recovery?: Partial<RecoveryDeps>;
  /** Runs qemu-img convert (tests wrap the real one). */
  convertToRaw?: typeof convertToRaw;
}

const TREE_ENTRIES = 40;

/** `Linux filesystem`, flags as short words, contents as `ext4 "root"`. */
function partitionRow(slot: Slot, tableType: TableType, contents: string | undefined): PartitionRow {
  const flags: string[] = [];
  if (slot.bootable) flags.push('boot');
  if (slot.attributes && slot.attributes !== '0x0' && !/^0x0+$/.test(slot.attributes)) {
    const bits = BigInt(slot.attributes);
    if (bits & 1n) flags.push('req');
    if (bits & 2n) flags.push('noblk');
    if (bits & 4n) flags.push('legacy');
    if (bits >> 48n) flags.push(`guid:${(bits >> 48n).toString(16)}`);
  }
  return {
    number: slot.number,
    start: slot.start,
    size: slot.size,
    container: slot.container,
    kind: slot.kind,
    typeName: slot.type?.name ?? (tableType === 'gpt' ? 'unknown' : ''),
    ...(slot.type?.code ? { typeCode: slot.type.code } : {}),
    ...(slot.name ? { gptName: slot.name } : {}),
    flags,
    ...(contents ? { contents } : {}),
  };
}

/** What an add did: maps made, and maps that were there already and were reloaded. */
function addSummary(created: number, reloaded: number): string {
  if (reloaded === 0) return `${created} map(s) created and confirmed against the kernel.`;
  if (created === 0) return `${reloaded} map(s) already existed: reloaded and confirmed against the kernel.`;
  return `${created} map(s) created, ${reloaded} already there (reloaded); all confirmed.`;
}

/** A path as a shell word, quoted only when it needs it. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/** A holder as the backends name it: a device, a mountpoint, or words (a process). */
function describeHolder(holder: string): string {
  if (holder.startsWith('/dev/')) return `used by ${holder}`;
  if (holder === 'an exclusive opener') return 'a process has it open';
  return holder.startsWith('/') ? `mounted on ${holder}` : holder;
}

/** An engine failure as the one sentence the app shows. */
async function asTuiError<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new TuiError(errorText(error));
  }
}

/** The key of a table-less source's whole-disk content in the caches (no slot is `start:size` so). */
const WHOLE = 'whole';

export function createTuiEngine(deps: TuiEngineDeps = {}): TuiEngine {
  const host: Machine = deps.machine ?? createMachine();
  const kernel = async (): Promise<Machine> => host;
  const cwd = deps.cwd ?? process.cwd();
  /** Content probes per source and slot: they do not change with the options. */
  const contentCache = new Map<string, Map<string, ContentInfo | null>>();
  /** Volume groups per source, found with the contents (they need the probe's word on the PVs). */
  const volumeGroupCache = new Map<string, VolumeGroupLayer[]>();
  /** The system on each partition's filesystem, found with the contents (start:size → system). */
  const systemCache = new Map<string, Map<string, SystemLayer | null>>();
  const looked = new Set<string>();
  /**
   * The sources the app was started with (`kpartx-tui a.img b.img`), by real path, as given: with
   * several, each one's VGs are assembled across all of them, as `--json a.img b.img` does.
   */
  const given = new Map<string, string>();
  /** The other sources given with `path`, when it is one of several. */
  const othersGiven = (path: string): string[] => {
    const key = sourceKey(path);
    if (given.size < 2 || !given.has(key)) return [];
    return [...given.keys()].filter((other) => other !== key);
  };
  /** The LVs the mount session offers, and the LV maps it made. */
  const lvVolumes = createLvVolumes(
    host,
    async (source, kind) => {
      const k = await kernel();
      const resolved = await resolveSource(source, 'delete', { readOnly: true }, host);
      if ('nothing' in resolved) return [];
      const backend = deps.backend
        ? await deps.backend(kind, k)
        : kind === 'loop'
          ? createLoopBackend(k)
          : await loadBackend(kind, k);
      return backend.existing(resolved.parent);
    },
    {
      makeBackend: (kind, k) => makeBackend(kind, k),
      // The other sources' maps and loops, made for an LV over several of them, are the app's own.
      onEvent: (event) => {
        if (event.type === 'loop-attached') madeHere.loops.add(event.path);
        else if (event.type === 'loop-released') madeHere.loops.delete(event.path);
        else if (event.type === 'created' || event.type === 'reloaded' || event.type === 'removed')
          track(event);
      },
    },
  );
  /** The LUKS volumes the mount session opened (closed again at their unmount). */
  const luksVolumes = createLuksVolumes(host);
  /**
   * What this app made itself (map paths, mountpoints, image loops): anything else found on a
   * source was left by an earlier run (a killed one, or another tool) and is shown as such.
   */
  const madeHere = { maps: new Set<string>(), mounts: new Set<string>(), loops: new Set<string>() };
  /** What earlier runs left on each source opened, for the source list (`2 maps, 1 mounted`). */
  const earlierLeftovers = new Map<string, string>();
  const sourceKey = (path: string): string => {
    try {
      return realpathSync(resolve(cwd, path));
    } catch {
      return resolve(cwd, path);
    }
  };

  async function backendFor(k: Machine, options: MapOptions): Promise<MapBackend> {
    const kind = chooseBackendKind(k, {
      ...(options.backend === 'auto' ? {} : { requested: options.backend }),
      loopAvailable: host.loop.available(),
    });
    if (deps.backend) return deps.backend(kind, k);
    if (kind === 'loop') return createLoopBackend(k);
    return loadBackend(kind, k);
  }

  /**
   * The chosen backend first, then the other one where this kernel has it: maps an earlier run
   * made with the other backend are found (and taken down) too.
   */
  async function allBackends(k: Machine, chosen: MapBackend | undefined): Promise<MapBackend[]> {
    const backends = chosen ? [chosen] : [];
    if (chosen?.kind !== 'loop' && host.loop.available()) backends.push(createLoopBackend(k));
    if (chosen?.kind !== 'dm' && dmUsable(k))
      backends.push(await (deps.backend ? deps.backend('dm', k) : loadBackend('dm', k)));
    return backends;
  }

  const mountRoot = () => deps.mountRoot ?? host.mounts.defaultRoot();
  const sessionOf = (k: Machine) => createSession(k, deps.mountRoot ? { mountRoot: deps.mountRoot } : {});

  /** What is set up on a source now; null when nothing is (or the source has no loop yet). */
  async function remainsOf(
    k: Machine,
    path: string,
    options: MapOptions,
    chosen: MapBackend | undefined,
  ): Promise<SourceRemains | null> {
    const resolved = await resolveSource(path, 'delete', { readOnly: options.readOnly }, host);
    if ('nothing' in resolved) return null;
    const remains = whatRemains(await allBackends(k, chosen), sessionOf(k), k, resolved.parent);
    return nothingRemains(remains) ? null : remains;
  }

  /** The remains as the screens show them, with what of it this app did not make. */
  function remainsView(path: string, remains: SourceRemains | null): RemainsView | undefined {
    const key = sourceKey(path);
    earlierLeftovers.delete(key);
    if (!remains) return undefined;
    const maps = remains.maps.filter((m) => !madeHere.maps.has(m.path));
    const mounts = remains.mounts.filter((m) => !madeHere.mounts.has(m.mountpoint));
    const loop = remains.loop?.ours && !madeHere.loops.has(remains.loop.path) ? remains.loop : null;
    const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
    const short = [
      maps.length > 0 ? plural(maps.length, 'map') : '',
      mounts.length > 0 ? `${mounts.length} mounted` : '',
      loop && remains.maps.length === 0 ? `${loop.path} attached, no maps` : '',
    ].filter(Boolean);
    if (short.length > 0) earlierLeftovers.set(key, short.join(', '));
    const where = mounts.length > 0 ? ` on ${mounts.map((m) => m.mountpoint).join(', ')}` : '';
    return {
      maps: remains.maps.map((m) => m.name),
      mounts: remains.mounts.map((m) => ({ map: m.name, mountpoint: m.mountpoint })),
      loop: remains.loop,
      earlier: short.length > 0 ? `${short.join(', ')}${where}` : null,
    };
  }

  const mountpointsOf = (k: Machine, devno: DevNo): string[] =>
    k.mounts
      .list()
      .filter((m) => sameDevNo(m.devno, devno))
      .map((m) => m.target);

  const safeHeld = (k: Machine, path: string): boolean => {
    try {
      return k.heldExclusively(path);
    } catch {
      return false;
    }
  };

  /** Who keeps a map busy: mounts of it, devices stacked on it, loops over it, else a process. */
  function holdersOf(k: Machine, devno: DevNo, path: string): string[] {
    const mounts = k.mounts
      .list()
      .filter((m) => sameDevNo(m.devno, devno))
      .map((m) => `mounted on ${m.target}`);
    let stacked: string[] = [];
    try {
      stacked = k.holders(devno).map((holder) => `used by /dev/${holder.kernelName}`);
    } catch {
      stacked = [];
    }
    const loops = loopsOver(k, devno).map((loop) => `used by ${loop}`);
    const found = [...mounts, ...stacked, ...loops];
    // Open and none of those: a process (the kernel would refuse an exclusive open).
    if (found.length === 0 && safeHeld(k, path)) found.push(openByProcess(path));
    return found;
  }

  const contentText = (info: ContentInfo | null | undefined): string | undefined =>
    info ? `${info.type}${info.label ? ` "${info.label}"` : ''}` : undefined;

  /** Next step and mountability of a partition's content, naming its map path when known. */
  function contentAdvice(
    info: ContentInfo | null | undefined,
    mapPath: string | undefined,
  ): Pick<PartitionRow, 'contentHint' | 'mountable' | 'notMountableWhy'> {
    if (!info) return {};
    const hint = hintFor(info, mapPath, { deviceMapper: host.deviceMapperPresent() });
    const why = info.mountable
      ? undefined
      : `${describeContent(info)}: ${hint ?? 'not a filesystem the kernel mounts directly'}`;
    return {
      mountable: info.mountable,
      ...(hint ? { contentHint: hint } : {}),
      ...(why ? { notMountableWhy: why } : {}),
    };
  }

  /** A filesystem this kernel cannot mount is said before trying, not after a failed mount. */
  function fsRefusal(info: ContentInfo | null | undefined, why: string | undefined): string | undefined {
    const fstype = info ? mountTypeFor(info) : undefined;
    if (info && fstype && !why && host.filesystemSupported(fstype) === false)
      return `${describeContent(info)}: this kernel cannot mount ${fstype} (not in /proc/filesystems, no module to load)`;
    return why;
  }

  /** The engine's SourceReport (the same data `--json` prints), drawn as the view-model. */
  /**
   * A container mapped through qemu-nbd: its layout is read through the file, and its maps are
   * those of the /dev/nbdN kpartx-tui connected it on (looked at as a source of its own). Before
   * it is connected, the maps an add would make are named on the first free nbd device, so the
   * add is offered and confirmed as for any image.
   */
  async function inspect(path: string, options: MapOptions): Promise<Inspection> {
    const outer = await inspectFile(path, options);
    if (!outer.layout.container?.throughNbd) return outer;
    const device = nbdDeviceOf(path);
    if (!device)
      return { ...outer, preview: { ...outer.preview, maps: nbdPreview(outer, options, host.nbd.list()) } };
    const inner = await inspectFile(device, options);
    const mappedAs = new Map(inner.layout.partitions.map((p) => [p.number, p.mappedAs]));
    return {
      layout: {
        ...outer.layout,
        partitions: outer.layout.partitions.map((p) => {
          const name = mappedAs.get(p.number);
          return name ? { ...p, mappedAs: name } : p;
        }),
      },
      preview: inner.preview,
      existing: inner.existing,
      ...(inner.volumes ? { volumes: inner.volumes } : {}),
      ...(inner.remains ? { remains: inner.remains } : {}),
    };
  }

  /** The /dev/nbdN kpartx-tui connected the container file `path` on, if any (only ours). */
  function nbdDeviceOf(path: string): string | undefined {
    if (!host.nbdPresent()) return undefined;
    const file = sourceKey(path);
    return host.nbd.list().find((c) => c.ours && c.file === file)?.path;
  }

  /** The maps an add of a container not connected yet would make, on the first free /dev/nbdN. */
  function nbdPreview(outer: Inspection, options: MapOptions, connections: { path: string }[]): PreviewMap[] {
    let index = 0;
    while (connections.some((c) => c.path === `/dev/nbd${index}`)) index++;
    const device = `/dev/nbd${index}`;
    const delimiter = options.delimiter ?? 'p';
    return outer.layout.partitions.map((p) => {
      const name = `nbd${index}${delimiter}${p.number}`;
      return {
        number: p.number,
        name,
        path: outer.preview.backend === 'dm' ? `/dev/mapper/${name}` : `a loop device over ${device}`,
        table: `on ${device} once qemu-nbd connects it: start ${p.start} size ${p.size}`,
        readOnly: options.readOnly,
        exists: false,
      };
    });
  }

  async function inspectFile(path: string, options: MapOptions): Promise<Inspection> {
    // Contents do not change with the options: probe once per source, reuse after. The very first
    // look skips probing altogether so the layout shows sooner; the next one fills the contents in.
    const probed = contentCache.get(path);
    const firstLook = probed === undefined && !looked.has(path);
    looked.add(path);
    const requested = options.backend === 'auto' ? undefined : options.backend;
    const inspectOptions = {
      host,
      readOnly: options.readOnly,
      forceGpt: options.forceGpt,
      ...(options.delimiter === null ? {} : { delimiter: options.delimiter }),
      ...(requested ? { backendKind: requested } : {}),
      probe: probed === undefined && !firstLook,
    };
    // The first look at an image no loop is bound to needs no kernel call (no map can sit on a loop
    // that does not exist yet), so koffi and device-mapper are loaded only after the first frame.
    const glance = firstLook
      ? inspectSource(path, undefined, {
          ...inspectOptions,
          backendDecision: predictBackend(requested, host),
        })
      : undefined;
    let report = glance && !glance.error && glance.image?.loopState === 'predicted' ? glance : undefined;
    let k: Machine | undefined;
    let backend: MapBackend | undefined;
    let backendProblem: string | undefined;
    if (!report) {
      k = await kernel();
      try {
        backend = await backendFor(k, options);
      } catch (error) {
        backendProblem = errorText(error);
      }
      const withBackend = { ...inspectOptions, ...(backend ? { backend } : {}) };
      const others = inspectOptions.probe ? othersGiven(path) : [];
      report =
        others.length > 0
          ? inspectSources([path, ...others], k, withBackend)[0]!
          : inspectSource(path, k, withBackend);
    }
    if (report.error) throw new TuiError(openProblem(path, host, report.error));
    const contents = probed ?? new Map(report.partitions.map((p) => [`${p.start}:${p.size}`, p.content]));
    if (probed === undefined && !firstLook) {
      // Without a table the whole disk's content is kept too (under WHOLE), for the note.
      if (!report.table) contents.set(WHOLE, report.content);
      contentCache.set(path, contents);
      volumeGroupCache.set(path, report.volumeGroups);
      systemCache.set(
        path,
        new Map([
          ...report.partitions.map((p): [string, SystemLayer | null] => [`${p.start}:${p.size}`, p.system]),
          ...(report.table ? [] : [[WHOLE, report.system] as [string, SystemLayer | null]]),
        ]),
      );
    }
    const wholeContent = report.content ?? contents.get(WHOLE) ?? null;
    const wholeSystem = report.system ?? systemCache.get(path)?.get(WHOLE) ?? null;
    const volumeGroups = volumeGroupCache.get(path) ?? [];
    /** A PV of this source (with several sources, a VG's PVs may be on the others too). */
    const isHere = (pv: { source?: string }): boolean => pv.source === undefined || pv.source === path;
    /** Another source as the user gave it, for the layout and the command to run. */
    const givenAs = (source: string): string => given.get(sourceKey(source)) ?? source;
    /** What an existing map holds (maps and partitions share start and size), for the mount session. */
    const mapContent = (start: number, size: number, mapPath: string) => {
      const info = contents.get(`${start}:${size}`);
      const text = contentText(info);
      // LUKS is offered where it can be opened: picking it asks the passphrase.
      if (luksOffered(host, info)) return { ...(text ? { contents: text } : {}), luks: true };
      const notMountableWhy = fsRefusal(info, contentAdvice(info, mapPath).notMountableWhy);
      return { ...(text ? { contents: text } : {}), ...(notMountableWhy ? { notMountableWhy } : {}) };
    };

    const backendKind: 'dm' | 'loop' =
      backend?.kind ?? report.backend ?? (options.backend === 'dm' ? 'dm' : 'loop');
    // In partition order (p2 before p10), whatever order the kernel lists them in.
    const byNumber = [...report.existing].sort(
      (a, b) =>
        (a.number ?? Number.MAX_SAFE_INTEGER) - (b.number ?? Number.MAX_SAFE_INTEGER) ||
        a.name.localeCompare(b.name, 'en', { numeric: true }),
    );
    const existing: ExistingMapView[] = byNumber.map((m) => ({
      name: m.name,
      number: m.number,
      path: m.path,
      devno: formatDevNo(m.devno),
      start: m.start,
      size: m.size,
      readOnly: m.readOnly,
      holders: k ? holdersOf(k, m.devno, m.path) : [],
      mountpoints: k ? mountpointsOf(k, m.devno) : [],
      ...mapContent(m.start, m.size, m.path),
    }));
    const lvHelpers = k
      ? {
          contentText: (info: ContentInfo | null) => contentText(info),
          notMountableWhy: (info: ContentInfo | null, mapPath: string) =>
            fsRefusal(info, contentAdvice(info, mapPath).notMountableWhy),
          mountpointsOf: (devno: DevNo) => mountpointsOf(k, devno),
        }
      : undefined;
    const volumes =
      k && backend && lvHelpers
        ? [
            ...(await lvVolumes.rows(
              {
                path,
                kind: backendKind,
                readOnly: options.readOnly,
                partitions: report.partitions,
                mapNames: new Map(report.maps.map((m) => [m.number, m.dmName])),
                existing: report.existing,
                volumeGroups,
                // No table: a PV with no partition is the whole disk, its LVs mapped over its loop.
                ...(report.table ? {} : { wholeDisk: true }),
                ...(othersGiven(path).length > 0
                  ? { across: { here: path, command: (source: string) => shellWord(givenAs(source)) } }
                  : {}),
              },
              lvHelpers,
            )),
            ...(await luksLvRows(path, report, existing, backendKind, options.readOnly, lvHelpers)),
          ]
        : [];
    // A PV map whose LVs the session lists: the next step is those rows, not the host's vgchange.
    for (const map of existing) {
      const vg = volumeGroups.find((g) =>
        g.physicalVolumes.some((pv) => isHere(pv) && pv.partition === map.number),
      );
      if (vg && map.notMountableWhy && volumes.some((v) => v.lv?.vg === vg.name))
        map.notMountableWhy = `LVM physical volume of ${vg.name}: its logical volumes are listed with the maps`;
    }
    // A predicted loop (the first look) does not exist: nothing can be set up on it.
    let remains: RemainsView | undefined;
    if (k && report.image?.loopState !== 'predicted') {
      try {
        remains = remainsView(path, await remainsOf(k, path, options, backend));
      } catch (error) {
        report.warnings.push(`${path}: cannot tell what is set up on it: ${errorText(error)}`);
      }
    } else {
      remainsView(path, null);
    }
    const existingNames = new Set(report.existing.map((m) => m.name));
    const plannedPaths = new Map(report.maps.map((m) => [m.number, m.path]));
    const partitions: PartitionRow[] = treeOrder(report.partitions).map((p) => {
      const row = partitionRow(
        {
          number: p.number,
          start: p.start,
          size: p.size,
          container: p.parent ?? 0,
          kind: p.kind,
          ...(p.type ? { type: p.type } : {}),
          ...(p.name !== undefined ? { name: p.name } : {}),
          ...(p.attributes !== undefined ? { attributes: p.attributes } : {}),
          bootable: p.bootable,
        },
        report.table?.type ?? 'dos',
        contentText(contents.get(`${p.start}:${p.size}`)),
      );
      if (p.pastEnd) row.flags.push('past-end');
      const advice = contentAdvice(
        contents.get(`${p.start}:${p.size}`),
        p.existing?.path ?? plannedPaths.get(p.number),
      );
      // A PV whose volume group is read and shown under it: the next step is that layer.
      const vg = volumeGroups.find((g) =>
        g.physicalVolumes.some((pv) => isHere(pv) && pv.partition === p.number),
      );
      if (vg && advice.contentHint)
        advice.contentHint = `its volume group ${vg.name} and logical volumes are shown below it`;
      return {
        ...row,
        ...systemView(systemCache.get(path)?.get(`${p.start}:${p.size}`)),
        ...advice,
        ...(p.extent !== undefined ? { extent: p.extent } : {}),
        ...(p.existing ? { mappedAs: p.existing.name } : {}),
      };
    });
    const parentPath = report.device ?? path;
    const maps: PreviewMap[] = report.maps.map((map) => ({
      number: map.number,
      name: map.name,
      path: map.path,
      table:
        backendKind === 'dm'
          ? map.table
          : `loop over ${parentPath} offset ${map.start * 512} size ${map.size * 512}`,
      readOnly: map.readOnly,
      exists: existingNames.has(map.kernelName),
    }));
    // A container's own bytes are not its disk: the add is refused, saying what it needs instead.
    const refusal =
      report.container && report.container.attach.method !== 'partition-map' && !nbdMaps(report.container)
        ? containerAddRefusal(path, report.container, host.nbdPresent())
        : undefined;
    const problems = refusal ? [refusal.message, refusal.lines[1]!] : [...report.problems];
    const blocked = backendProblem ?? report.backendProblem;
    if (blocked) problems.unshift(blocked);
    if (!report.table) problems.push('nothing to map: no partition table');
    // A whole-disk PV whose VG is read and shown: its LVs are mounted from the session, not vgchange.
    const wholeVg = report.table
      ? undefined
      : volumeGroups.find((g) => g.physicalVolumes.some((pv) => isHere(pv) && pv.partition === null));
    const note = report.table
      ? undefined
      : wholeContent && wholeVg
        ? `No partition table: the whole disk is a PV of ${wholeVg.name} (below); its logical volumes are mounted from the mount session (m), or with \`kpartx-tui mount ${path}:${wholeVg.name}/LV\``
        : wholeContent
          ? `No partition table: the whole source is ${contentText(wholeContent)}${wholeSystem ? ` (${wholeSystem.label})` : ''}${wholeContent.hint ? `. ${wholeContent.hint}` : ''}`
          : report.container
            ? `No partition table inside the ${report.container.format} image${report.container.problem ? `: ${report.container.problem}` : '.'}`
            : `No partition table found (${sniffSource(path)}).`;
    const convertible = Boolean(refusal && report.container?.attach.method === 'nbd' && !host.nbdPresent());
    return {
      layout: {
        path,
        ...(report.container
          ? {
              container: {
                ...containerView(report.container),
                ...(convertible ? { convertible } : {}),
                ...(nbdMaps(report.container) ? { throughNbd: true } : {}),
              },
            }
          : {}),
        ...(volumeGroups.length > 0
          ? { volumeGroups: volumeGroupRows(volumeGroups, (c) => contentText(c), { isHere, givenAs }) }
          : {}),
        tableType: report.table?.type ?? null,
        ...(report.table?.diskId ? { diskId: report.table.diskId } : {}),
        sectorSize: report.table?.sectorSize ?? report.sectorSize,
        // Inside a container the bar spans the guest's disk, not the file.
        sizeSectors:
          report.container?.readable && report.container.virtualSize !== null
            ? Math.floor(report.container.virtualSize / 512)
            : report.sizeSectors,
        partitions,
        ...(note ? { note } : {}),
        // Without a table the whole disk is probed (a filesystem, a PV whose VG is shown) the same way.
        ...(firstLook && (report.partitions.length > 0 || !report.table) ? { contentsPending: true } : {}),
        warnings: report.warnings,
      },
      preview: {
        backend: backendKind,
        // A backend made, or one predicted for the first look.
        ...(options.backend === 'auto' && (backend || (!k && report.backend))
          ? { backendReason: backendKind === 'loop' ? 'no device-mapper here' : 'device-mapper' }
          : {}),
        delimiter: report.delimiter ?? '',
        maps,
        problems,
        ...(blocked ? { blocked } : {}),
      },
      existing,
      ...(volumes.length > 0 ? { volumes } : {}),
      ...(remains ? { remains } : {}),
    };
  }

  /**
   * The LVs inside the LUKS volumes the mount session opened on `path`'s maps (a PV inside LUKS),
   * offered like the others; the LUKS row itself then points at them.
   */
  async function luksLvRows(
    path: string,
    report: {
      partitions: readonly { number: number; start: number; size: number }[];
      existing: readonly ExistingMap[];
    },
    rows: ExistingMapView[],
    kind: 'dm' | 'loop',
    readOnly: boolean,
    helpers: LvRowHelpers,
  ): Promise<ExistingMapView[]> {
    const out: ExistingMapView[] = [];
    for (const map of report.existing) {
      const entry = luksVolumes.openedOn(map.path);
      if (!entry || map.number === null || entry.inside?.type !== 'LVM2_member') continue;
      const row = rows.find((r) => r.path === map.path);
      if (row) {
        delete row.luks;
        row.notMountableWhy = `LUKS, opened as ${entry.volume.kernelName}: its logical volumes are listed with the maps`;
      }
      const facts = host.blockDevice(entry.volume.path);
      const disk = host.openDisk(entry.volume.path, facts.sizeBytes, facts.logicalSectorSize);
      let groups: VolumeGroupLayer[];
      try {
        groups = readLvmLayers(disk, path, [
          { partition: map.number, extent: { start: 0, size: Math.floor(facts.sizeBytes / 512) } },
        ]).volumeGroups;
      } finally {
        disk.close();
      }
      out.push(
        ...(await lvVolumes.rows(
          {
            path,
            kind,
            readOnly,
            partitions: report.partitions,
            mapNames: new Map([[map.number, entry.volume.name]]),
            existing: report.existing,
            volumeGroups: groups,
            inside: { number: map.number, path: entry.volume.path },
          },
          helpers,
        )),
      );
    }
    return out;
  }

  /** A container the workflow attaches through qemu-nbd on this kernel (container-attach.ts). */
  function nbdMaps(layer: { attach: { method: string } }): boolean {
    return layer.attach.method === 'nbd' && host.nbdPresent();
  }

  /** Why adding `path` is refused when it is a container only nbd can present; null otherwise. */
  function containerRefusal(path: string): string | null {
    let disk: ReturnType<Machine['openDisk']>;
    try {
      if (host.stat(path) !== 'file') return null;
      disk = host.openDisk(path, host.fileSize(path), 512);
    } catch {
      return null; // resolving the source reports it
    }
    try {
      const opened = openContainerLayer(disk, path, path);
      opened?.close();
      if (!opened || opened.layer.attach.method === 'partition-map' || nbdMaps(opened.layer)) return null;
      const refusal = containerAddRefusal(path, opened.layer, host.nbdPresent());
      return `${refusal.message}. ${refusal.lines.join('; ')}`;
    } catch {
      return null;
    } finally {
      disk.close();
    }
  }

  /** What the first bytes of an image say when no table was found (compressed, qcow2…). */
  function sniffSource(path: string): string {
    try {
      const disk = host.openDisk(path, host.fileSize(path), 512);
      try {
        return summarizeImage(disk).what;
      } finally {
        disk.close();
      }
    } catch {
      return 'unreadable';
    }
  }

  /** A block node at `path` (following the loop backend's symlink). */
  function nodePresent(k: Machine, path: string): boolean {
    try {
      return k.stat(path) === 'block';
    } catch {
      return false;
    }
  }

  /** Read a created map back from the kernel and compare with the plan. */
  function confirm(
    k: Machine,
    event: Extract<MapEvent, { type: 'created' | 'reloaded' }>,
    parent: ParentDevice,
  ) {
    const { map } = event;
    let tableText: string;
    let ok: boolean;
    if (k.dm && !k.loop.list().some((l) => sameDevNo(l.devno, event.devno))) {
      const targets = k.dm.table(map.kernelName);
      const target = targets[0];
      tableText = targets.map((t) => `${t.start} ${t.length} ${t.type} ${t.params}`).join('; ');
      ok =
        targets.length === 1 &&
        target?.type === 'linear' &&
        target.length === map.size &&
        target.params === `${formatDevNo(parent.devno)} ${map.start}`;
    } else {
      const loop = k.loop.list().find((l) => sameDevNo(l.devno, event.devno));
      tableText = loop
        ? `offset ${loop.offset} size ${loop.sizeLimit}${loop.readOnly ? ' ro' : ''}`
        : 'loop gone';
      ok = !!loop && loop.offset === map.start * 512 && loop.sizeLimit === map.size * 512;
    }
    const node = nodePresent(k, event.path);
    const detail = `read back: ${tableText} · node ${node ? 'present' : 'missing'}`;
    return ok && node ? { type: 'confirmed' as const, detail } : { type: 'unconfirmed' as const, detail };
  }

  type Counts = {
    created: number;
    /** Of `created`: maps that were there already, reloaded with the same table. */
    reloaded: number;
    confirmed: number;
    failed: number;
    rolledBack: number;
    busy: number;
  };

  /**
   * Backend events as progress lines, the moment they happen: each created map is read back from
   * the kernel right away, so the screen confirms it while the next one is being made.
   */
  function progressLines(
    k: Machine,
    parent: ParentDevice,
    emit: (event: ProgressEvent) => void,
  ): { counts: Counts; onEvent: EmitEvent } {
    const counts: Counts = { created: 0, reloaded: 0, confirmed: 0, failed: 0, rolledBack: 0, busy: 0 };
    const onEvent: EmitEvent = (event) => {
      switch (event.type) {
        case 'created':
        case 'reloaded': {
          counts.created++;
          if (event.type === 'reloaded') counts.reloaded++;
          emit({ type: 'created', name: event.map.name, path: event.path, devno: formatDevNo(event.devno) });
          const check = confirm(k, event, parent);
          if (check.type === 'confirmed') counts.confirmed++;
          emit({ ...check, name: event.map.name });
          break;
        }
        case 'failed':
        case 'refused':
          counts.failed++;
          emit({ type: 'failed', name: event.name, message: event.message });
          break;
        case 'conflict':
          emit({ type: 'note', name: event.name, detail: `name taken (${event.reason})` });
          break;
        case 'rolled-back':
          counts.rolledBack++;
          emit({ type: 'rolled-back', name: event.name });
          break;
        case 'removed':
          emit({ type: 'removed', name: event.name, path: event.path });
          break;
        case 'busy':
          counts.busy++;
          emit({ type: 'busy', name: event.name, holders: event.holders.map(describeHolder) });
          break;
        case 'not-removed':
          counts.busy++;
          emit({ type: 'busy', name: event.name, holders: [`not removed: ${event.reason}`] });
          break;
        case 'renamed':
          emit({ type: 'note', name: event.to, detail: `renamed from ${event.from}` });
          break;
      }
    };
    return { counts, onEvent };
  }

  /** Keep `madeHere` in step with what the backends report. */
  function track(event: MapEvent): void {
    if (event.type === 'created' || event.type === 'reloaded') madeHere.maps.add(event.path);
    else if (event.type === 'removed') madeHere.maps.delete(event.path);
  }

  /** The backend of a kind as this app makes it (tests give their own, to fail on purpose). */
  function makeBackend(kind: BackendKind, k: Machine): MapBackend | Promise<MapBackend> {
    if (deps.backend) return deps.backend(kind, k);
    if (kind === 'loop') return createLoopBackend(k);
    return loadBackend(kind, k);
  }

  /** The map-run request for the app's options (read-only and delimiter as the options say). */
  async function mapRequest(
    path: string,
    action: MapAction,
    options: MapOptions,
  ): Promise<MapRunRequest & { action: MapAction }> {
    const backend = chooseBackendKind(host, {
      ...(options.backend === 'auto' ? {} : { requested: options.backend }),
      loopAvailable: host.loop.available(),
    });
    return {
      operand: path,
      action,
      readOnly: options.readOnly,
      ...(options.delimiter === null ? {} : { delimiter: options.delimiter }),
      forceGpt: options.forceGpt,
      sync: options.sync,
      backend,
      releaseIdleLoop: true,
      // The write mode holds for a container as for a raw image: direct (and overlay, whose
      // source is the overlay file) connect it read-write, read-only connects it read-only.
      containerWritable: !options.readOnly,
    };
  }

  /**
   * Workflow events as progress rows; map events are read back from the kernel as they come
   * (progressLines). Returns the refused plan's problems, if any, for the summary.
   */
  function runEvents(k: Machine, emit: (e: ProgressEvent) => void, operand: string) {
    let lines: ReturnType<typeof progressLines> | undefined;
    const refused: string[] = [];
    const counts = (): Counts =>
      lines?.counts ?? { created: 0, reloaded: 0, confirmed: 0, failed: 0, rolledBack: 0, busy: 0 };
    const removed: string[] = [];
    const onEvent = (event: WorkflowEvent, parent: ParentDevice | undefined): void => {
      switch (event.type) {
        case 'loop-attached':
          madeHere.loops.add(event.path);
          emit({ type: 'note', name: basename(event.path), detail: `${event.path} attached to ${operand}` });
          return;
        case 'loop-released':
          madeHere.loops.delete(event.path);
          if (event.cause === 'failure' || event.cause === 'refusal' || event.cause === 'rollback')
            emit({ type: 'rolled-back', name: basename(event.path) });
          else emit({ type: 'note', name: basename(event.path), detail: `${event.path} detached` });
          return;
        case 'loop-kept':
          emit({
            type: 'note',
            name: basename(event.path),
            detail:
              event.why === 'foreign'
                ? `${event.path} kept: it was not attached by kpartx-tui`
                : `${event.path} kept: still in use; released when no longer used`,
          });
          return;
        case 'loop-release-failed':
        case 'nbd-release-failed':
          emit({ type: 'failed', name: basename(event.path), message: event.message });
          return;
        case 'nbd-attached':
          emit({
            type: 'note',
            name: basename(event.path),
            detail: `${event.path} connected to ${operand} with qemu-nbd (${event.format}${event.readOnly ? ', read-only' : ''})`,
          });
          return;
        case 'nbd-released':
          if (event.cause === 'failure' || event.cause === 'refusal' || event.cause === 'rollback')
            emit({ type: 'rolled-back', name: basename(event.path) });
          else emit({ type: 'note', name: basename(event.path), detail: `${event.path} disconnected` });
          return;
        case 'nbd-kept':
          emit({
            type: 'note',
            name: basename(event.path),
            detail: `${event.path} kept: still used by ${event.users.join(', ')}; disconnected when no longer used`,
          });
          return;
        case 'plan-refused':
          refused.push(...event.problems);
          return;
        case 'resolved':
        case 'warning':
        case 'interrupted':
          return;
        default:
          if (!parent) return;
          lines ??= progressLines(k, parent, emit);
          if (event.type === 'removed') removed.push(event.name);
          track(event);
          lines.onEvent(event);
      }
    };
    return { onEvent, refused, counts, removed };
  }

  /**
   * Add maps through the map-run workflow: the whole run holds the critical signals from its
   * first step (the loop attach included); when one arrives, the add stops before its next map,
   * takes back what it made and lets go of the loop it attached, and the call throws
   * InterruptedError saying so.
   */
  async function add(
    path: string,
    options: MapOptions,
    emit: (e: ProgressEvent) => void,
  ): Promise<OpOutcome> {
    // Before anything is attached: a container's file must never be mapped as if it were its disk.
    const refusal = containerRefusal(path);
    if (refusal) throw new TuiError(refusal);
    const k = await kernel();
    const request = await mapRequest(path, 'add', options);
    let parent: ParentDevice | undefined;
    const events = runEvents(k, emit, path);
    const outcome = await runMaps(request, { machine: host, makeBackend }, (event) => {
      if (event.type === 'resolved') parent = event.source.parent;
      events.onEvent(event, parent);
    });
    if (outcome.status === 'nothing-bound') throw new TuiError(`${path}: nothing to map`);
    if (outcome.status === 'no-table') throw new TuiError(`${path}: no partition table, nothing to map`);
    if (outcome.status === 'refused') throw new TuiError(events.refused.join('; '));
    const counts = events.counts();
    if (outcome.failures > 0)
      return {
        ok: false,
        summary: `Failed: ${counts.failed} error(s); rolled back ${counts.rolledBack} map(s). Nothing half-made is left.`,
      };
    const unconfirmed = counts.created - counts.confirmed;
    return unconfirmed > 0
      ? { ok: false, summary: `${counts.created} map(s) created, ${unconfirmed} not confirmed by the kernel` }
      : { ok: true, summary: addSummary(counts.created - counts.reloaded, counts.reloaded) };
  }

  /**
   * Remove the source's maps, then (as `kpartx -d image`) the image's loop once no map is left on
   * it, through the map-run workflow. Held against signals from its first step; an interrupted
   * removal runs to its end and the InterruptedError says what it removed and what it kept.
   */
  async function remove(
    path: string,
    options: MapOptions,
    emit: (e: ProgressEvent) => void,
  ): Promise<OpOutcome> {
    const k = await kernel();
    // LUKS volumes the session opened sit on the partition maps: closed first when unused.
    for (const name of await luksVolumes.closeIdle())
      emit({ type: 'note', name, detail: `${name} closed (cryptsetup close)` });
    const request = await mapRequest(path, 'delete', options);
    let parent: ParentDevice | undefined;
    const events = runEvents(k, emit, path);
    const outcome = await runMaps(request, { machine: host, makeBackend }, (event) => {
      if (event.type === 'resolved') parent = event.source.parent;
      events.onEvent(event, parent);
    });
    if (outcome.status === 'nothing-bound')
      return { ok: true, summary: `${path}: no loop device bound, nothing to remove.` };
    const { busy } = events.counts();
    if (outcome.failures > 0 || busy > 0)
      return {
        ok: false,
        summary: `${events.removed.length} map(s) removed; ${busy} busy, kept (see why above).`,
      };
    return { ok: true, summary: `${events.removed.length} map(s) removed.` };
  }

  /** Maps, mounts and loop devices of these sources that are there now: said when the app is left. */
  async function leftovers(opened: string[], options: MapOptions): Promise<Leftover[]> {
    // The sources an LV map over several still holds are named too, opened in the app or not.
    const keys = new Set(opened.map(sourceKey));
    const paths = [...opened, ...lvVolumes.acrossSources().filter((p) => !keys.has(sourceKey(p)))];
    if (paths.length === 0) return [];
    const k = await kernel();
    const found: Leftover[] = [];
    for (const path of paths) {
      let resolved: Awaited<ReturnType<typeof resolveSource>>;
      try {
        // A container's maps are those of the nbd device it is connected on.
        resolved = await resolveSource(nbdDeviceOf(path) ?? path, 'delete', { readOnly: true }, host);
      } catch {
        continue;
      }
      if ('nothing' in resolved) continue;
      const { parent } = resolved;
      let maps: ExistingMap[] = [];
      let kind: BackendKind = 'dm';
      try {
        const backend = await backendFor(k, options);
        kind = backend.kind;
        maps = backend.existing(parent);
      } catch {
        maps = [];
      }
      // Our LV maps on the parent (a whole-disk PV) or on its partition maps: `kpartx -d` takes them first.
      const lvs = lvDevicesOver(k, [parent.devno, ...maps.map((m) => m.devno)]).map((d) => ({
        name: unmangleDmName(d.name),
        devno: d.devno,
      }));
      const mounts = k.mounts.list().flatMap((entry) => {
        const map = [...maps, ...lvs].find((candidate) => sameDevNo(candidate.devno, entry.devno));
        return map ? [{ map: map.name, mountpoint: entry.target }] : [];
      });
      const loop = resolved.loop?.state === 'found' ? resolved.loop.path : undefined;
      if (maps.length === 0 && lvs.length === 0 && !loop) continue;
      const unmounting = new Set(found.flatMap((f) => f.mounts.map((m) => m.mountpoint)));
      const backendFlag = options.backend === 'auto' ? '' : ` --backend ${options.backend}`;
      found.push({
        path,
        maps: maps.map((map) => map.name),
        ...(lvs.length > 0 ? { lvMaps: lvs.map((lv) => lv.name) } : {}),
        backend: kind,
        mounts,
        ...(loop ? { loop } : {}),
        removeWith: [
          // A mount on an LV map over several sources is unmounted once, before the first's maps go.
          ...mounts
            .filter((m) => !unmounting.has(m.mountpoint))
            .map((m) => `umount ${shellWord(m.mountpoint)}`),
          `kpartx -d${backendFlag} ${shellWord(path)}`,
        ],
      });
    }
    return found;
  }

  /** Unmount, unmap, release: everything set up on the source, whoever made it. */
  /**
   * A container's clean-up is its nbd device's (mounts, maps), then the connection is let go by a
   * delete of the container, as `kpartx -d` lets it go once no map uses it.
   */
  async function tearDown(
    path: string,
    options: MapOptions,
    emit: (e: ProgressEvent) => void,
  ): Promise<OpOutcome> {
    // An LV map over this source and others goes first, with the others' maps and loops.
    await releaseAcross(path, emit);
    const device = nbdDeviceOf(path);
    if (!device) return tearDownOne(path, options, emit);
    const done = await tearDownOne(device, options, emit);
    if (!done.ok) return done;
    const released = await remove(path, options, emit);
    return released.ok ? done : released;
  }

  async function tearDownOne(
    path: string,
    options: MapOptions,
    emit: (e: ProgressEvent) => void,
  ): Promise<OpOutcome> {
    const k = await kernel();
    const backends = await allBackends(k, await backendFor(k, options));
    const resolved = await resolveSource(path, 'delete', { readOnly: options.readOnly }, host);
    if ('nothing' in resolved)
      return { ok: true, summary: `${path}: no loop device bound, nothing to clean up.` };
    const { parent } = resolved;
    const { onEvent } = progressLines(k, parent, emit);
    const step = (event: TeardownEvent): void => {
      switch (event.type) {
        case 'unmounted':
          madeHere.mounts.delete(event.mountpoint);
          emit({ type: 'note', name: `unmount ${event.name}`, detail: `${event.mountpoint} unmounted` });
          return;
        case 'unmount-failed':
          emit({ type: 'failed', name: `unmount ${event.name}`, message: event.message });
          return;
        case 'loop-released':
          madeHere.loops.delete(event.path);
          emit({ type: 'note', name: basename(event.path), detail: `${event.path} released` });
          return;
        case 'loop-kept':
          emit({ type: 'kept', name: basename(event.path), why: event.why });
          return;
        default:
          track(event);
          onEvent(event);
      }
    };
    // Like a removal, a teardown is never cut short by a signal: it runs to its end first.
    const result = await deferSignals(
      () => tearDownSource(backends, sessionOf(k), k, parent, { sync: options.sync }, step),
      (done) => teardownSummary(done),
    );
    return { ok: result.kept.length === 0, summary: teardownSummary(result) };
  }

  /** A map already mounted (by an earlier run, or by hand): the session takes it over as it is. */
  function mountedAlready(k: Machine, mapPath: string): MountView | undefined {
    const { devno } = k.blockDevice(mapPath);
    const entry = k.mounts.list().find((m) => sameDevNo(m.devno, devno));
    if (!entry) return undefined;
    return {
      source: mapPath,
      mountpoint: entry.target,
      readOnly: entry.options.split(',').includes('ro'),
      exec: !entry.options.split(',').includes('noexec'),
      fstype: entry.fstype,
      tree: listTree(entry.target),
      earlier: !madeHere.mounts.has(entry.target),
    };
  }

  function listTree(mountpoint: string): string[] {
    // Names as bytes: one that is not UTF-8 shows its bytes as `\xNN` instead of U+FFFD.
    const entries = readdirSync(mountpoint, { withFileTypes: true, encoding: 'buffer' });
    return entries
      .map((e) => {
        const name = decodeUtf8Visibly(e.name);
        return e.isDirectory() ? `${name}/` : e.isSymbolicLink() ? `${name}@` : name;
      })
      .sort((a, b) => Number(b.endsWith('/')) - Number(a.endsWith('/')) || a.localeCompare(b))
      .slice(0, TREE_ENTRIES);
  }

  /** What a mapped partition holds (read through the host); null when unknown or unreadable. */
  function mapContentInfo(mapPath: string): ContentInfo | null {
    try {
      const size = host.blockDevice(mapPath).sizeBytes;
      const disk = host.openDisk(mapPath, size, 512);
      try {
        return probeContent(disk, 0, disk.size);
      } finally {
        disk.close();
      }
    } catch {
      return null;
    }
  }

  /**
   * The kernel filesystem type to mount a mapped partition with. Unknown content is left to the
   * session to detect; known content that is not a filesystem (LUKS, LVM, swap…) is refused with
   * what to do instead, rather than a bare mount error.
   */
  function mountType(mapPath: string): string | undefined {
    const info = mapContentInfo(mapPath);
    if (!info) return undefined;
    if (!info.mountable) {
      const next =
        hintFor(info, mapPath, { deviceMapper: host.deviceMapperPresent() }) ??
        'not a filesystem the kernel mounts directly';
      throw new TuiError(`${basename(mapPath)} is not mountable: ${describeContent(info)}; ${next}`);
    }
    return mountTypeFor(info);
  }

  async function session() {
    return sessionOf(await kernel());
  }

  /**
   * A read-only mount of the session, mounted again read-write on the same mountpoint. Everything
   * that would refuse is checked while it is still mounted read-only; a map that turns out
   * read-only once unmounted is mounted read-only again, and the reason said.
   */
  async function remountWritable(mount: MountView): Promise<MountView> {
    if (!mount.readOnly) return mount;
    const k = await kernel();
    const inside = k.mounts.list().find((m) => isInside(m.target, mount.mountpoint));
    if (inside) throw new TuiError(`${inside.target} is mounted inside it: unmount that first (u)`);
    if (mount.fstype === 'ntfs3' || mount.fstype === 'ntfs') {
      const refusal = ntfsWriteRefusal(mount.source, {
        dirty: mapContentInfo(mount.source)?.dirty === true,
        hiberfil: hiberfilState(mount.mountpoint),
      });
      if (refusal) throw new TuiError(refusal);
    }
    return deferSignals(
      async () => {
        const s = sessionOf(k);
        const again = (readOnly: boolean) =>
          s.mount({
            name: basename(mount.source),
            device: mount.source,
            readOnly,
            exec: mount.exec,
            fstype: mount.fstype,
            mountpoint: mount.mountpoint,
          });
        s.unmount(mount.mountpoint);
        madeHere.mounts.delete(mount.mountpoint);
        if (k.blockDevice(mount.source).readOnly) {
          again(true);
          madeHere.mounts.add(mount.mountpoint);
          throw new TuiError(readOnlyMapWhy(mount.source));
        }
        let mounted: ReturnType<typeof again>;
        try {
          mounted = again(false);
        } catch (error) {
          // The filesystem refused to be written: it is mounted read-only again, as it was.
          again(true);
          madeHere.mounts.add(mount.mountpoint);
          throw new TuiError(`${errorText(error)}; mounted read-only again`);
        }
        madeHere.mounts.add(mounted.mountpoint);
        return mounted;
      },
      () => `the remount of ${mount.mountpoint} ran to its end first`,
    ).then((mounted) => ({
      source: mount.source,
      mountpoint: mounted.mountpoint,
      readOnly: mounted.readOnly,
      exec: mounted.exec,
      fstype: mounted.fstype,
      tree: listTree(mounted.mountpoint),
    }));
  }

  async function mountMap(mapPath: string, choice: MountChoice): Promise<MountView> {
    const { readOnly } = choice;
    const adopted = mountedAlready(await kernel(), mapPath);
    if (adopted) return adopted;
    // NTFS is looked at read-only first (dirty flag, hiberfil.sys) before it may be written.
    if (!readOnly && (choice.fstype ?? mountType(mapPath)) === 'ntfs3') {
      const looked = await mountMap(mapPath, { ...choice, readOnly: true });
      try {
        return await remountWritable(looked);
      } catch (error) {
        await unmountMount(looked);
        throw error;
      }
    }
    return deferSignals(
      async () => {
        const k = await kernel();
        const s = sessionOf(k);
        const mounted = s.mount({
          name: basename(mapPath),
          device: mapPath,
          ...sessionRequest(choice, {
            cwd,
            mountRoot: mountRoot(),
            mountedHere: madeHere.mounts,
            kernel: k,
            probed: choice.fstype ? undefined : mountType(mapPath),
          }),
        });
        madeHere.mounts.add(mounted.mountpoint);
        return { s, mounted };
      },
      ({ s, mounted }) => undoMount(s, mounted),
    ).then(({ mounted }) => ({
      source: mapPath,
      mountpoint: mounted.mountpoint,
      readOnly: mounted.readOnly,
      exec: mounted.exec,
      fstype: mounted.fstype,
      tree: listTree(mounted.mountpoint),
    }));
  }

  /** Take away the LV map the session made at `path`, then the image loop it attached for it. */
  async function releaseLv(path: string): Promise<string | undefined> {
    const released = await lvVolumes.release(path);
    if (released?.loop) madeHere.loops.delete(released.loop);
    return released?.path;
  }

  /**
   * The LV maps the session made over `path` and other sources: each one's mounts, the LV map,
   * then every source's maps and the loops attached for it, newest first.
   */
  async function releaseAcross(path: string, emit: (e: ProgressEvent) => void): Promise<void> {
    const key = sourceKey(path);
    const k = await kernel();
    for (const lvPath of lvVolumes.madeOver((operand) => sourceKey(operand) === key)) {
      const devno = k.deviceNumber(lvPath);
      for (const entry of devno ? k.mounts.list().filter((m) => sameDevNo(m.devno, devno)) : []) {
        (await session()).unmount(entry.target);
        madeHere.mounts.delete(entry.target);
        emit({ type: 'note', name: `unmount ${basename(lvPath)}`, detail: `${entry.target} unmounted` });
      }
      await releaseLv(lvPath);
      emit({ type: 'note', name: basename(lvPath), detail: `${lvPath} removed, with the maps it needed` });
    }
  }

  /** Unmount; an LV map the session made for it goes with it, before any partition map. */
  function unmountMount(mount: MountView): Promise<void> {
    return deferSignals(
      async () => {
        (await session()).unmount(mount.mountpoint);
        madeHere.mounts.delete(mount.mountpoint);
        await releaseLv(mount.source);
        await luksVolumes.release(mount.source);
        // A LUKS volume whose LVs are all unmapped now is closed too.
        await luksVolumes.closeIdle();
      },
      () => `the unmount of ${mount.mountpoint} ran to its end first`,
    );
  }

  const engine: TuiEngine = {
    recovery: createRecoveryEngine({ crypt: () => host.hostCrypt(), xattrs: host.xattrs, ...deps.recovery }),
    remountWritable,
    isRoot: deps.isRoot ?? process.geteuid?.() === 0,
    home: 'home' in deps ? deps.home : userEnvironment().HOME,
    listDirectory: (dir: string) => listDirectory(resolve(cwd, dir || '.')),
    listSources: (extra: string[]): SourceEntry[] => {
      for (const path of extra) given.set(sourceKey(path), path);
      return listSources(extra, cwd).map((entry) => {
        const left = earlierLeftovers.get(entry.path);
        return left ? { ...entry, leftovers: left } : entry;
      });
    },
    inspect,
    add,
    remove,
    tearDown,
    // Held against signals from the first step: an interrupted mount is unmounted again. A map an
    // earlier run left mounted is taken over as it is.
    async mount(mapPath, choice): Promise<MountView> {
      // An LV row: its map is made first (as `kpartx-tui mount IMAGE:VG/LV` makes it), and taken
      // away again when the mount fails.
      if (!lvVolumes.isLv(mapPath)) return mountMap(mapPath, choice);
      // A whole-disk PV's LV map goes on the image's loop: attached now when none is bound.
      const ready = await deferSignals(
        () => lvVolumes.prepare(mapPath, choice.readOnly),
        (prepared) => releaseLv(prepared.path),
      );
      if (ready.loop) madeHere.loops.add(ready.loop);
      // The image's own loop now shows the host a PV, as `kpartx-tui mount IMAGE:VG/LV` warns.
      const warning = ready.loop ? wholeDiskActivationWarning(host.lvmHost(), [ready.loop]) : undefined;
      try {
        const mounted = await mountMap(ready.path, choice);
        return warning ? { ...mounted, warning } : mounted;
      } catch (error) {
        await releaseLv(ready.path).catch(() => undefined);
        throw error;
      }
    },
    // A LUKS row: opened as `kpartx-tui mount IMAGE:N` opens it; a filesystem inside is mounted
    // (and the volume closed again when that fails), a PV inside stays open for its LVs.
    async unlock(mapPath, passphrase, choice) {
      const entry = await deferSignals(
        () => luksVolumes.open(mapPath, passphrase, choice.readOnly),
        (opened) => luksVolumes.release(opened.volume.path),
      );
      const { volume, inside } = entry;
      if (inside?.type === 'LVM2_member') {
        // cryptsetup's map is one udev hands to the host's lvm2, as `kpartx-tui mount` warns too.
        const warning = luksActivationWarning(host.lvmHost(), volume.kernelName);
        return {
          opened: volume.kernelName,
          note: `opened ${mapPath} as ${volume.kernelName}: it holds ${describeContent(inside)}; its logical volumes are listed with the maps${warning ? `. Warning: ${warning}` : ''}`,
        };
      }
      try {
        return await mountMap(volume.path, choice);
      } catch (error) {
        await luksVolumes.release(volume.path).catch(() => undefined);
        throw error;
      }
    },
    closeOpened: () => luksVolumes.closeIdle(),
    listTree,
    unmount: unmountMount,
    mountTarget: (mapPath) => resolve(mountRoot(), basename(mapPath)),
    mountableFilesystems: () => host.mountableFilesystems(),
    leftovers,
    convertTarget: (path) => defaultRawPath(sourceKey(path)),
    planConvert(path, target) {
      try {
        const prepared = prepareConvert(host, hostConvertFs, resolve(cwd, path), resolve(cwd, target));
        return {
          source: prepared.container.file,
          format: prepared.container.qemuFormat,
          target: prepared.target,
          space: prepared.space,
        };
      } catch (error) {
        throw new TuiError(errorText(error));
      }
    },
    convert: (plan, onProgress, signal) =>
      (deps.convertToRaw ?? convertToRaw)({
        source: plan.source,
        format: plan.format,
        target: plan.target,
        onProgress,
        signal,
      }),
    overlayProblem: (path) => overlayProblem(host, resolve(cwd, path)),
    overlayTarget: (path) => defaultOverlayPath(sourceKey(path)),
    planOverlay(path, target): OverlayView {
      try {
        return planOverlay(host, resolve(cwd, path), resolve(cwd, target));
      } catch (error) {
        throw new TuiError(errorText(error));
      }
    },
    createOverlay: (overlay) => asTuiError(() => createOverlay(host, overlay)),
    endOverlay: (overlay, end) => asTuiError(() => endOverlay(host, overlay, end)),
  };
  return engine;
}
