/**
 * `kpartx-tui mount IMAGE:VG/LV`: map the partitions holding the LV's PVs (through the map-run
 * workflow), map the LV itself over them (lv-run.ts: a dm map, or a loop with offset and size),
 * mount its filesystem and record all of it, so `kpartx-tui umount` takes it back newest first.
 * The host's lvm2 is never asked: the VG name may equal one of the host's.
 */
import { basename } from 'node:path';
import type { BackendKind } from '../engine/backend.js';
import { errorText } from '../engine/errors.js';
import { openLogicalVolume } from '../engine/lvm/lv-disk.js';
import { createSession, type MountedPartition } from '../engine/session.js';
import { deferSignals } from '../engine/signals.js';
import { openSourceDisk } from '../engine/source.js';
import { planLvMap } from '../engine/stack/lv-map.js';
import type { WorkflowEvent } from '../engine/workflow/events.js';
import { autoActivationWarning } from '../engine/workflow/lv-activation.js';
import {
  attachLv,
  detachLv,
  findLogicalVolume,
  firstPartitionOf,
  type LvDevice,
  LvRunError,
  planOverMaps,
} from '../engine/workflow/lv-run.js';
import { MapRun } from '../engine/workflow/map-run.js';
import { lvmHostFacts } from '../kernel/lvm-host.js';
import { describeContent, hintFor, probeContent } from '../probe/index.js';
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
  target: { source: string; vg: string; lv: string },
  options: { dir?: string; rw: boolean; fs?: FsChoice },
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
  let mounted: MountedPartition | undefined;
  let recorded = false;
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
        if (error instanceof LvMountError || error instanceof LvRunError || !run.source) throw error;
        throw new LvMountError(`${errorText(error)} (${outcome})`);
      }
    },
    () => takeBack(),
  );

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
    const disk = openSourceDisk(resolved, machine);
    let found: ReturnType<typeof findLogicalVolume>;
    let fstype: string | undefined;
    try {
      found = findLogicalVolume(disk, source, planned, target.vg, target.lv);
      const opened = openLogicalVolume(found.group, target.lv);
      const info = opened.ok ? probeContent(opened.disk, 0, opened.disk.size) : null;
      if (info && !info.mountable)
        throw new LvMountError(
          `${what}: ${describeContent(info)} is not mountable: ${hintFor(info, undefined) ?? 'not a filesystem the kernel mounts directly'}`,
        );
      fstype = info
        ? info.type === 'ext2' || info.type === 'ext3'
          ? 'ext4'
          : info.type === 'ntfs'
            ? 'ntfs3'
            : info.type
        : undefined;
    } finally {
      disk.close();
    }
    const numbers = new Set(found.partitions.values());
    const pvMaps = planned.filter((m) => numbers.has(m.number));
    // The loop backend can only present one linear run: say why before anything is mapped.
    if (kind === 'loop') {
      const dry = planLvMap(
        found.map,
        { vgId: found.group.metadata.id, lvId: found.lv.id },
        pvMaps[0]!.dmName,
        new Map(
          [...found.partitions].map(([id]) => [id, { path: '', devno: { major: 0, minor: 0 }, offset: 0 }]),
        ),
      );
      if (!dry.loop.ok) throw new LvMountError(`${what}: ${dry.loop.reason}`);
    }
    // Unknown content is mounted only as the type named (--type), refused before anything is mapped.
    fstype = options.fs?.type ?? fstype;
    if (!fstype) throw new LvMountError(unrecognisedContent(what, machine));
    const hostWarning = autoActivationWarning(
      lvmHostFacts(),
      kind,
      pvMaps.map((m) => m.name),
    );
    if (hostWarning) deps.stderr(`kpartx-tui mount: warning: ${hostWarning}\n`);
    const backend = await run.makeBackend();
    const missing = pvMaps.filter(
      (m) => !backend.existing(resolved.parent).some((e) => e.number === m.number),
    );
    if (missing.length > 0) {
      const failures = await run.apply(missing, interrupted, planned);
      if (failures > 0) throw new LvMountError(`${what}: could not map its PV partitions (see above)`);
    }
    interrupted.throwIfAborted();
    const existing = backend.existing(resolved.parent);
    const firstNumber = firstPartitionOf(found);
    const plan = planOverMaps(
      machine,
      found,
      existing,
      (number) => planned.find((m) => m.number === number)!.dmName,
    );
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
    };
    writeRecord(record);
    recorded = true;
    return record;
  }
}
