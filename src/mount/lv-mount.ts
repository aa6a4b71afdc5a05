/**
 * `kpartx-tui mount IMAGE:VG/LV` (or `IMAGE:N/VG/LV`, with `--with IMAGE` for each other image
 * holding PVs of the VG): map the partitions holding the LV's PVs (through one map-run workflow per
 * image; a PV on a whole disk without a partition table is the image's loop itself), map the LV
 * itself over them (lv-run.ts: a dm map, or a loop with
 * offset and size), mount its filesystem and record all of it, so `kpartx-tui umount` takes it back
 * newest first. When the VG's PV is inside a LUKS partition (LVM on LUKS), that partition is mapped
 * and opened first (luks.ts) and the LV is mapped over the opened volume. The host's lvm2 is never
 * asked: the VG name may equal one of the host's.
 */
import { basename } from 'node:path';
import type { BackendKind } from '../engine/backend.js';
import { errorText } from '../engine/errors.js';
import { openLogicalVolume } from '../engine/lvm/lv-disk.js';
import type { LuksKey } from '../engine/machine.js';
import { createSession, type MountedPartition } from '../engine/session.js';
import { deferSignals } from '../engine/signals.js';
import { planLvMap } from '../engine/stack/lv-map.js';
import type { WorkflowEvent } from '../engine/workflow/events.js';
import {
  closeLuks,
  LuksError,
  type LuksOpened,
  luksKeyFor,
  luksNames,
  luksProblem,
  openedDisk,
  openLuks,
} from '../engine/workflow/luks.js';
import {
  autoActivationWarning,
  luksActivationWarning,
  wholeDiskActivationWarning,
} from '../engine/workflow/lv-activation.js';
import { LvLocateError, type LvLocation, locateVolumeGroup } from '../engine/workflow/lv-locate.js';
import {
  attachLv,
  detachLv,
  type FoundLv,
  findAmong,
  firstPlaceOf,
  type LvDevice,
  LvRunError,
  type PvSource,
  partitionSources,
  planOverMaps,
  volumeGroupNames,
  WHOLE_DISK,
} from '../engine/workflow/lv-run.js';
import {
  mapUnitPartitions,
  resolveUnits,
  type SourceUnit,
  sourceUnit,
  takeBackUnits,
  unitDevices,
  unitMapName,
  unitPvSources,
  usedOn as usedOnUnit,
  withUnitDisks,
} from '../engine/workflow/lv-sources.js';
import type { Disk } from '../io/disk.js';
import { type ContentInfo, describeContent, hintFor, probeContent } from '../probe/index.js';
import { type FsChoice, unrecognisedContent } from './fs-choice.js';
import type { MountFaceDeps } from './main.js';
import { type MountRecord, removeRecord, type SourceRecord, writeRecord } from './record.js';
import { takeBackSteps } from './take-back.js';

/** A failure of the face (the caller turns it into MountFaceError). */
export class LvMountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LvMountError';
  }
}

export async function mountLogicalVolume(
  operand: string,
  target: { source: string; vg: string; lv: string; partition?: number },
  options: { dir?: string; rw: boolean; keyFile?: string; fs?: FsChoice; with?: readonly string[] },
  kind: BackendKind,
  deps: MountFaceDeps,
  emit: (event: WorkflowEvent) => void,
): Promise<MountRecord> {
  const { machine } = deps;
  const { source } = target;
  const what = `${source}:${target.vg}/${target.lv}`;
  /** The operand's source first, then each `--with` image in the order given. */
  const units = [source, ...(options.with ?? [])].map((unitOperand) =>
    sourceUnit(
      unitOperand,
      // A VM disk container (an overlay among them) is connected writable only for --rw.
      { readOnly: !options.rw, backend: kind, containerWritable: options.rw },
      { machine, makeBackend: deps.makeBackend },
      emit,
    ),
  );
  const primary = units[0]!;
  const pvSources = (disks: readonly Disk[], skip?: number): PvSource[] => unitPvSources(units, disks, skip);
  const withDisks = <T>(body: (disks: Disk[]) => T): T => withUnitDisks(units, machine, body);

  const run = primary.run;
  const session = createSession(machine, deps.mountRoot ? { mountRoot: deps.mountRoot } : {});
  let lvDevice: LvDevice | undefined;
  /** The LUKS mapping this run opened (or tried to: a cut-short cryptsetup may leave it). */
  let luks: { name: string; kernelName: string } | undefined;
  let mounted: MountedPartition | undefined;
  let recorded = false;
  /**
   * Newest first: the record, the mount, the LV map, LUKS, then the maps and loop of each source's
   * run (the `--with` images' first, the operand's own last).
   */
  const takeBack = async (): Promise<string> => {
    if (recorded && mounted) removeRecord(mounted.mountpoint);
    const said = await takeBackSteps([
      () => {
        if (!mounted) return undefined;
        session.unmount(mounted.mountpoint);
        return `${mounted.mountpoint} unmounted`;
      },
      async () => {
        if (!lvDevice) return undefined;
        await detachLv(machine, lvDevice);
        return `${lvDevice.path} removed`;
      },
      async () => (luks && (await closeLuks(machine, luks)) ? `${luks.kernelName} closed` : undefined),
    ]);
    said.push(...(await takeBackUnits(units)));
    return said.join('; ');
  };
  return deferSignals(
    async (interrupted) => {
      try {
        return await steps(interrupted);
      } catch (error) {
        const outcome = await takeBack();
        if (
          error instanceof LvMountError ||
          error instanceof LvRunError ||
          error instanceof LvLocateError ||
          error instanceof LuksError ||
          !run.source
        )
          throw error;
        throw new LvMountError(`${errorText(error)} (${outcome})`);
      }
    },
    () => takeBack(),
  );

  /** The kernel's type of the LV's filesystem; refused when it is not one that mounts. */
  function lvFilesystem(found: FoundLv): string | undefined {
    const opened = openLogicalVolume(found.group, target.lv);
    const info = opened.ok ? probeContent(opened.disk, 0, opened.disk.size) : null;
    if (info && !info.mountable)
      throw new LvMountError(
        `${what}: ${describeContent(info)} is not mountable: ${hintFor(info, undefined) ?? 'not a filesystem the kernel mounts directly'}`,
      );
    if (!info) return undefined;
    return info.type === 'ext2' || info.type === 'ext3' ? 'ext4' : info.type === 'ntfs' ? 'ntfs3' : info.type;
  }

  /** Find the LV among `sources`, a missing PV named with the `--with` that would add it. */
  function findIn(sources: readonly PvSource[], where?: string): FoundLv {
    const operands = units.map((u) => u.operand).join(' nor ');
    return findAmong(
      source,
      sources,
      target.vg,
      target.lv,
      where ?? (units.length > 1 ? `on ${operands}` : 'here'),
      { notOn: operands, hint: '; give the image that holds it with --with IMAGE' },
    );
  }

  async function steps(interrupted: AbortSignal): Promise<MountRecord> {
    await resolveUnits(units);
    const resolved = primary.resolved!;
    const planned = primary.planned ?? [];
    let found: FoundLv | undefined;
    let fstype: string | undefined;
    const location = withDisks((disks): LvLocation => {
      const sources = pvSources(disks);
      const location = locateVolumeGroup(
        target,
        planned.map((m) => ({
          number: m.number,
          luks: probeContent(disks[0]!, m.start * 512, m.size * 512)?.type === 'crypto_LUKS',
        })),
        volumeGroupNames(sources),
      );
      if (location.inside === 'partitions') {
        found = findIn(sources);
        const named = location.partition;
        const used = [...found.places.values()].filter((p) => p.origin === 0).map((p) => p.number);
        if (named !== undefined && !used.includes(named))
          throw new LvMountError(
            `${what}: partition ${named} holds none of its PVs (they are on partition ${[...new Set(used)].join(', ')})`,
          );
        fstype = lvFilesystem(found);
      }
      return location;
    });
    // LVM on LUKS: refused, or the passphrase asked, before anything is mapped.
    let key: LuksKey | undefined;
    if (location.inside === 'luks') {
      const problem = luksProblem(machine);
      if (problem) throw new LvMountError(`${source}:${location.partition}: ${problem}`);
      const names = luksNames(planned.find((m) => m.number === location.partition)!);
      const warning = luksActivationWarning(machine.lvmHost(), names.kernelName);
      if (warning) deps.stderr(`kpartx-tui mount: warning: ${warning}\n`);
      key = await luksKeyFor(`${source}:${location.partition}`, options.keyFile, deps.readPassphrase);
      interrupted.throwIfAborted();
    }
    const mapMissing = (unit: SourceUnit, numbers: Set<number>): Promise<void> =>
      mapUnitPartitions(
        unit,
        numbers,
        interrupted,
        () =>
          `${what}: could not map its PV partitions${unit === primary ? '' : ` on ${unit.operand}`} (see above)`,
      );
    /** The opened LUKS volume holding a PV, standing in for its partition's map. */
    let inside: (LuksOpened & { number: number }) | undefined;
    if (location.inside === 'luks' && key) {
      const number = location.partition;
      await mapMissing(primary, new Set([number]));
      const backend = await run.makeBackend();
      const map = planned.find((m) => m.number === number)!;
      const existing = backend.existing(resolved.parent).find((m) => m.number === number);
      if (!existing) throw new LvMountError(`${source}:${number}: its map is gone`);
      const names = luksNames(map);
      let opened: LuksOpened;
      try {
        opened = await openLuks(machine, existing.path, names, key, {
          readOnly: !options.rw,
          attempting: () => {
            luks = names;
          },
        });
      } catch (error) {
        throw new LvMountError(`${source}:${number}: ${errorText(error)}`);
      }
      interrupted.throwIfAborted();
      inside = { ...opened, number };
      const volume = openedDisk(machine, opened);
      try {
        withDisks((disks) => {
          found = findIn(
            [
              ...pvSources(disks, number),
              { number, origin: 0, label: `${source} partition ${number} (LUKS)`, disk: volume },
            ],
            `on ${source} nor inside its LUKS partition ${number}`,
          );
          fstype = lvFilesystem(found);
        });
      } finally {
        volume.close();
      }
    }
    if (!found) throw new LvMountError(`${what}: not found`);
    const lvFound: FoundLv = found;
    const usedOn = (origin: number): Set<number> => usedOnUnit(lvFound, origin);
    const mapName = (number: number, origin: number): string =>
      origin === 0 && inside?.number === number ? inside.name : unitMapName(units, number, origin);
    const first = firstPlaceOf(lvFound);
    // The loop backend can only present one linear run: say why before anything more is mapped.
    if (kind === 'loop') {
      const dry = planLvMap(
        lvFound.map,
        { vgId: lvFound.group.metadata.id, lvId: lvFound.lv.id },
        mapName(first.number, first.origin),
        new Map(
          [...lvFound.places].map(([id]) => [id, { path: '', devno: { major: 0, minor: 0 }, offset: 0 }]),
        ),
      );
      if (!dry.loop.ok) throw new LvMountError(`${what}: ${dry.loop.reason}`);
    }
    // Unknown content is mounted only as the type named (--type), refused before anything is mapped.
    fstype = options.fs?.type ?? fstype;
    if (!fstype) throw new LvMountError(unrecognisedContent(what, machine));
    /** Per source, the partition maps of the PVs the LV uses (the opened LUKS volume's aside). */
    const pvMaps = units.map((unit, origin) =>
      (unit.planned ?? []).filter(
        (m) => usedOn(origin).has(m.number) && !(origin === 0 && m.number === inside?.number),
      ),
    );
    const facts = machine.lvmHost();
    const hostWarning = autoActivationWarning(
      facts,
      kind,
      pvMaps.flat().map((m) => m.name),
    );
    if (hostWarning) deps.stderr(`kpartx-tui mount: warning: ${hostWarning}\n`);
    const wholeLoops = units
      .filter((u, origin) => !u.planned && u.resolved!.parent.image && usedOn(origin).has(WHOLE_DISK))
      .map((u) => u.resolved!.parent.path);
    const wholeWarning = wholeDiskActivationWarning(facts, wholeLoops);
    if (wholeWarning) deps.stderr(`kpartx-tui mount: warning: ${wholeWarning}\n`);
    for (const [origin, unit] of units.entries())
      await mapMissing(unit, new Set(pvMaps[origin]!.map((m) => m.number)));
    /** The devices the PVs are on now: partition maps (LUKS standing in), or a whole disk's parent. */
    const devices = await unitDevices(units, (number) =>
      number === inside?.number ? { path: inside.path, devno: inside.devno } : undefined,
    );
    const plan = planOverMaps(machine, lvFound, devices, mapName);
    const firstDevice = devices.find((d) => d.origin === first.origin && d.number === first.number)!;
    const attached = await attachLv(machine, kind, plan, {
      readOnly: !options.rw,
      sync: true,
      like: machine.realpath(firstDevice.path),
    });
    if (attached.created) lvDevice = attached.device;
    interrupted.throwIfAborted();
    const device = attached.device;
    const wasReadOnly = machine.blockDevice(device.path).readOnly;
    try {
      mounted = session.mount({
        name: basename(device.path),
        device: device.path,
        readOnly: !options.rw || options.fs?.readOnly === true,
        exec: false,
        fstype,
        options: options.fs?.data ?? [],
        ...(options.dir ? { mountpoint: options.dir } : {}),
      });
    } catch (error) {
      throw new LvMountError(`${what}: ${errorText(error)}`);
    }
    const sourceRecord = (unit: SourceUnit): SourceRecord => {
      const parent = unit.resolved!.parent;
      return {
        source: unit.operand,
        // A container's maps are on its nbd device: the record names the image, whose connection umount finds.
        sourcePath: unit.run.nbd?.file ?? parent.image?.file ?? parent.path,
        parent: parent.path,
        maps: unit.run.created.map((c) => ({ number: c.map.number, name: c.map.name, path: c.path })),
        loop: unit.run.attachedLoop ?? null,
      };
    };
    const own = sourceRecord(primary);
    const record: MountRecord = {
      source: operand,
      sourcePath: own.sourcePath,
      parent: own.parent,
      partition: first.number,
      mountpoint: mounted.mountpoint,
      device: device.path,
      fstype: mounted.fstype,
      readOnly: mounted.readOnly,
      restoreWritable: mounted.readOnly && !wasReadOnly,
      backend: kind,
      maps: own.maps,
      loop: own.loop,
      ...(units.length > 1 ? { with: units.slice(1).map(sourceRecord) } : {}),
      ...(lvDevice ? { lv: lvDevice } : {}),
      ...(inside ? { luks: { name: inside.name, kernelName: inside.kernelName, path: inside.path } } : {}),
    };
    writeRecord(record);
    recorded = true;
    return record;
  }
}

/**
 * `SOURCE:N` when `SOURCE:[N/]VG/LV` is to be looked for inside LUKS partition N, read without
 * mapping anything; undefined otherwise. passwd asks the passphrase before the new password with it.
 */
export function lvLuksPartition(
  target: { source: string; vg: string; lv: string; partition?: number },
  disk: Disk,
  partitions: readonly { number: number; start: number; size: number }[],
  contents: readonly { number: number; info: ContentInfo | null }[],
): string | undefined {
  const location = locateVolumeGroup(
    target,
    contents.map((c) => ({ number: c.number, luks: c.info?.type === 'crypto_LUKS' })),
    volumeGroupNames(partitionSources(disk, target.source, partitions)),
  );
  return location.inside === 'luks' ? `${target.source}:${location.partition}` : undefined;
}
