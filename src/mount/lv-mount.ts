/**
 * `kpartx-tui mount IMAGE:VG/LV` (or `IMAGE:N/VG/LV`): map the partitions holding the LV's PVs
 * (through the map-run workflow), map the LV itself over them (lv-run.ts: a dm map, or a loop with
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
import { openSourceDisk } from '../engine/source.js';
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
import { autoActivationWarning, luksActivationWarning } from '../engine/workflow/lv-activation.js';
import { LvLocateError, type LvLocation, locateVolumeGroup } from '../engine/workflow/lv-locate.js';
import {
  attachLv,
  detachLv,
  type FoundLv,
  findAmong,
  firstPartitionOf,
  type LvDevice,
  LvRunError,
  partitionSources,
  planOverMaps,
  volumeGroupNames,
} from '../engine/workflow/lv-run.js';
import { MapRun } from '../engine/workflow/map-run.js';
import type { Disk } from '../io/disk.js';
import { lvmHostFacts } from '../kernel/lvm-host.js';
import { type ContentInfo, describeContent, hintFor, probeContent } from '../probe/index.js';
import { type FsChoice, unrecognisedContent } from './fs-choice.js';
import type { MountFaceDeps } from './main.js';
import { type MountRecord, removeRecord, writeRecord } from './record.js';
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
  options: { dir?: string; rw: boolean; keyFile?: string; fs?: FsChoice },
  kind: BackendKind,
  deps: MountFaceDeps,
  emit: (event: WorkflowEvent) => void,
): Promise<MountRecord> {
  const { machine } = deps;
  const { source } = target;
  const what = `${source}:${target.vg}/${target.lv}`;
  let refusal = '';
  const run = new MapRun(
    {
      operand: source,
      action: 'add',
      readOnly: !options.rw,
      sync: true,
      backend: kind,
      releaseIdleLoop: true,
      // A VM disk container (an overlay among them) is connected writable only for --rw.
      containerWritable: options.rw,
    },
    { machine, makeBackend: deps.makeBackend },
    (event) => {
      if (event.type === 'plan-refused') refusal = event.problems.join('; ');
      emit(event);
    },
  );
  const session = createSession(machine, deps.mountRoot ? { mountRoot: deps.mountRoot } : {});
  let lvDevice: LvDevice | undefined;
  /** The LUKS mapping this run opened (or tried to: a cut-short cryptsetup may leave it). */
  let luks: { name: string; kernelName: string } | undefined;
  let mounted: MountedPartition | undefined;
  let recorded = false;
  /** Newest first: the record, the mount, the LV map, LUKS, then the maps and loop of the run. */
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
    said.push(await run.takeBack('rollback'));
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

  async function steps(interrupted: AbortSignal): Promise<MountRecord> {
    const resolved = await run.resolve();
    if (!resolved) throw new LvMountError(`${source}: nothing to mount`);
    const table = run.readTable();
    if (!table)
      throw new LvMountError(
        `${source}: no partition table found (a PV on the whole disk is not mapped yet)`,
      );
    const planned = await run.plan(table);
    if (!planned) throw new LvMountError(`${source}: cannot map its partitions: ${refusal}`);
    let location: LvLocation;
    let found: FoundLv | undefined;
    let fstype: string | undefined;
    const disk = openSourceDisk(resolved, machine);
    try {
      const sources = partitionSources(disk, source, planned);
      location = locateVolumeGroup(
        target,
        planned.map((m) => ({
          number: m.number,
          luks: probeContent(disk, m.start * 512, m.size * 512)?.type === 'crypto_LUKS',
        })),
        volumeGroupNames(sources),
      );
      if (location.inside === 'partitions') {
        found = findAmong(source, sources, target.vg, target.lv);
        const named = location.partition;
        const used = [...new Set(found.partitions.values())];
        if (named !== undefined && !used.includes(named))
          throw new LvMountError(
            `${what}: partition ${named} holds none of its PVs (they are on partition ${used.join(', ')})`,
          );
        fstype = lvFilesystem(found);
      }
    } finally {
      disk.close();
    }
    // LVM on LUKS: refused, or the passphrase asked, before anything is mapped.
    let key: LuksKey | undefined;
    if (location.inside === 'luks') {
      const problem = luksProblem(machine);
      if (problem) throw new LvMountError(`${source}:${location.partition}: ${problem}`);
      const names = luksNames(planned.find((m) => m.number === location.partition)!);
      const warning = luksActivationWarning(lvmHostFacts(), names.kernelName);
      if (warning) deps.stderr(`kpartx-tui mount: warning: ${warning}\n`);
      key = await luksKeyFor(`${source}:${location.partition}`, options.keyFile, deps.readPassphrase);
      interrupted.throwIfAborted();
    }
    const backend = await run.makeBackend();
    const mapMissing = async (numbers: Set<number>): Promise<void> => {
      const missing = planned.filter(
        (m) => numbers.has(m.number) && !backend.existing(resolved.parent).some((e) => e.number === m.number),
      );
      if (missing.length > 0) {
        const failures = await run.apply(missing, interrupted, planned);
        if (failures > 0) throw new LvMountError(`${what}: could not map its PV partitions (see above)`);
      }
      interrupted.throwIfAborted();
    };
    /** The opened LUKS volume holding a PV, standing in for its partition's map. */
    let inside: (LuksOpened & { number: number }) | undefined;
    if (location.inside === 'luks' && key) {
      const number = location.partition;
      await mapMissing(new Set([number]));
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
      const parentDisk = openSourceDisk(resolved, machine);
      const volume = openedDisk(machine, opened);
      try {
        found = findAmong(
          source,
          [
            ...partitionSources(
              parentDisk,
              source,
              planned.filter((m) => m.number !== number),
            ),
            { number, label: `${source} partition ${number} (LUKS)`, disk: volume },
          ],
          target.vg,
          target.lv,
          `on ${source} nor inside its LUKS partition ${number}`,
        );
        fstype = lvFilesystem(found);
      } finally {
        volume.close();
        parentDisk.close();
      }
    }
    if (!found) throw new LvMountError(`${what}: not found`);
    const numbers = new Set(found.partitions.values());
    const mapName = (number: number): string =>
      inside?.number === number ? inside.name : planned.find((m) => m.number === number)!.dmName;
    // The loop backend can only present one linear run: say why before anything more is mapped.
    if (kind === 'loop') {
      const dry = planLvMap(
        found.map,
        { vgId: found.group.metadata.id, lvId: found.lv.id },
        mapName(firstPartitionOf(found)),
        new Map(
          [...found.partitions].map(([id]) => [id, { path: '', devno: { major: 0, minor: 0 }, offset: 0 }]),
        ),
      );
      if (!dry.loop.ok) throw new LvMountError(`${what}: ${dry.loop.reason}`);
    }
    // Unknown content is mounted only as the type named (--type), refused before anything is mapped.
    fstype = options.fs?.type ?? fstype;
    if (!fstype) throw new LvMountError(unrecognisedContent(what, machine));
    const plainPvMaps = planned.filter((m) => numbers.has(m.number) && m.number !== inside?.number);
    const hostWarning = autoActivationWarning(
      lvmHostFacts(),
      kind,
      plainPvMaps.map((m) => m.name),
    );
    if (hostWarning) deps.stderr(`kpartx-tui mount: warning: ${hostWarning}\n`);
    await mapMissing(new Set(plainPvMaps.map((m) => m.number)));
    const existing = backend
      .existing(resolved.parent)
      .map((m) =>
        m.number === inside?.number ? { number: m.number, path: inside.path, devno: inside.devno } : m,
      );
    const firstNumber = firstPartitionOf(found);
    const plan = planOverMaps(machine, found, existing, mapName);
    const attached = await attachLv(machine, kind, plan, {
      readOnly: !options.rw,
      sync: true,
      like: machine.realpath(existing.find((m) => m.number === firstNumber)!.path),
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
    const record: MountRecord = {
      source: operand,
      // A container's maps are on its nbd device: the record names the image, whose connection umount finds.
      sourcePath: run.nbd?.file ?? resolved.parent.image?.file ?? resolved.parent.path,
      parent: resolved.parent.path,
      partition: firstNumber,
      mountpoint: mounted.mountpoint,
      device: device.path,
      fstype: mounted.fstype,
      readOnly: mounted.readOnly,
      restoreWritable: mounted.readOnly && !wasReadOnly,
      backend: kind,
      maps: run.created.map((c) => ({ number: c.map.number, name: c.map.name, path: c.path })),
      loop: run.attachedLoop ?? null,
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
