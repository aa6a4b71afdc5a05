/**
 * `kpartx-tui mount SOURCE[:N] [DIR] [--rw] [--json]` and `kpartx-tui umount DIR|SOURCE [--json]`:
 * the face for scripts, like guestmount or `systemd-dissect --mount`. mount maps what partition N
 * needs through the map-run workflow, mounts it (read-only, nosuid,nodev,noexec unless --rw),
 * records what it made and leaves it mounted; umount takes back exactly that. Signals are held
 * for the whole of either: an interrupted mount is taken back, an umount runs to its end.
 * No React or Ink here.
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { BackendKind, MapBackend } from '../engine/backend.js';
import { chooseBackendKind, loadBackend } from '../engine/backends/select.js';
import { errorText } from '../engine/errors.js';
import type { LuksKey, Machine } from '../engine/machine.js';
import { createSession, type MountedPartition, type Session } from '../engine/session.js';
import { deferSignals, InterruptedError } from '../engine/signals.js';
import { openSourceDisk, type ResolvedSource } from '../engine/source.js';
import type { WorkflowEvent } from '../engine/workflow/events.js';
import {
  closeLuks,
  type LuksOpened,
  luksNames,
  luksProblem,
  openLuks,
  probeOpened,
} from '../engine/workflow/luks.js';
import { detachLv, splitLvOperand } from '../engine/workflow/lv-run.js';
import { MapRun } from '../engine/workflow/map-run.js';
import { endOverlay, type OverlayEnd, OverlayError } from '../engine/workflow/overlay.js';
import { displayText } from '../io/display-text.js';
import { createMachine } from '../kernel/machine.js';
import { type ContentInfo, describeContent, hintFor, probeContent } from '../probe/index.js';
import { checkFsChoice, type FsChoice, unrecognisedContent } from './fs-choice.js';
import { lvLuksPartition, mountLogicalVolume } from './lv-mount.js';
import { mountedInside, nestedInRecorded } from './nested.js';
import { mountOnOverlay, splitOperandSource } from './overlay-mount.js';
import { askPassphrase, nextStdinLine } from './password-input.js';
import { listRecords, type MountRecord, removeRecord, type SourceRecord, writeRecord } from './record.js';
import { takeBackSteps } from './take-back.js';
import { removeUnrecorded } from './unrecorded.js';

export interface MountFaceDeps {
  machine: Machine;
  makeBackend(kind: BackendKind, machine: Machine): MapBackend | Promise<MapBackend>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Where default mountpoints go (the run directory's `mnt` when absent). */
  mountRoot?: string;
  /** A LUKS passphrase: stdin's next line, or asked once on the terminal (`what` names the volume). */
  readPassphrase?(what: string): Promise<string>;
}

/** A failure of the face: one line, naming the source or partition and the problem. */
export class MountFaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MountFaceError';
  }
}

export const MOUNT_USAGE = `usage: kpartx-tui mount SOURCE[:N|:VG/LV|:N/VG/LV] [DIR] [--rw|--overlay[=PATH]] [--type T] [--options O] [--json] [--backend dm|loop] [--key-file FILE]
       kpartx-tui mount SOURCE:VG/LV [DIR] --with IMAGE [--with IMAGE]... [options as above]   (a VG over several images)
       kpartx-tui umount DIR|SOURCE [--commit|--discard] [--json]
       kpartx-tui overlay commit|discard OVERLAY`;

interface Parsed {
  operands: string[];
  rw: boolean;
  json: boolean;
  backend?: BackendKind;
  keyFile?: string;
  /** `--overlay[=PATH]`: PATH, or '' for the default beside the image. */
  overlay?: string;
  /** umount: what becomes of the mount's overlay (kept when neither flag is given). */
  overlayEnd?: OverlayEnd;
  type?: string;
  options?: string;
  /** `--with IMAGE` (repeatable): other sources holding PVs of the VG named. */
  with: string[];
}

function parse(args: string[]): Parsed {
  const parsed: Parsed = { operands: [], rw: false, json: false, with: [] };
  let options = true;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (options && arg === '--') options = false;
    else if (options && arg === '--rw') parsed.rw = true;
    else if (options && arg === '--json') parsed.json = true;
    else if (options && (arg === '--overlay' || arg.startsWith('--overlay=')))
      parsed.overlay = arg.slice('--overlay='.length);
    else if (options && (arg === '--commit' || arg === '--discard')) {
      const end = arg === '--commit' ? 'commit' : 'discard';
      if (parsed.overlayEnd && parsed.overlayEnd !== end)
        throw new MountFaceError('--commit and --discard exclude each other');
      parsed.overlayEnd = end;
    } else if (options && (arg === '--backend' || arg.startsWith('--backend='))) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i];
      if (value !== 'dm' && value !== 'loop')
        throw new MountFaceError(`invalid backend '${value}': use dm or loop`);
      parsed.backend = value;
    } else if (options && (arg === '--key-file' || arg.startsWith('--key-file='))) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i];
      if (!value) throw new MountFaceError('--key-file needs a FILE');
      parsed.keyFile = value;
    } else if (options && (arg === '--with' || arg.startsWith('--with='))) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i];
      if (!value) throw new MountFaceError('--with needs an IMAGE');
      parsed.with.push(value);
    } else if (options && /^--(type|options)(=|$)/.test(arg)) {
      const name = arg.slice(2).split('=')[0] as 'type' | 'options';
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i];
      if (value === undefined || (name === 'type' && value === ''))
        throw new MountFaceError(
          `--${name} needs ${name === 'type' ? 'a filesystem type' : 'a list of options'}`,
        );
      parsed[name] = value;
    } else if (options && arg.startsWith('-') && arg !== '-')
      throw new MountFaceError(`unknown option ${arg}`);
    else parsed.operands.push(arg);
  }
  return parsed;
}

/** `disk.img:2` is partition 2 of disk.img, unless a file is literally named `disk.img:2`. */
export function splitSource(operand: string): { source: string; partition?: number } {
  const match = /^(.+):(\d+)$/.exec(operand);
  if (!match || existsSync(operand)) return { source: operand };
  return { source: match[1]!, partition: Number(match[2]) };
}

/** The kernel's type for what the probe found (ext2/3 by the ext4 driver, ntfs by ntfs3). */
const kernelType = (info: ContentInfo): string =>
  info.type === 'ext2' || info.type === 'ext3' ? 'ext4' : info.type === 'ntfs' ? 'ntfs3' : info.type;

interface Candidate {
  number: number;
  info: ContentInfo | null;
}

/** Partition N, or the only mountable one; a clear error otherwise. */
export function choosePartition(source: string, candidates: Candidate[], wanted?: number): Candidate {
  const describe = (c: Candidate) => `${c.number} (${c.info ? describeContent(c.info) : 'unknown content'})`;
  if (wanted !== undefined) {
    const found = candidates.find((c) => c.number === wanted);
    if (!found)
      throw new MountFaceError(
        `${source}: no partition ${wanted}; partitions: ${candidates.map((c) => c.number).join(', ') || 'none'}`,
      );
    // LUKS is opened and what it holds is looked at then.
    if (found.info && !found.info.mountable && found.info.type !== 'crypto_LUKS') {
      const next = hintFor(found.info, undefined) ?? 'not a filesystem the kernel mounts directly';
      throw new MountFaceError(
        `${source}:${wanted}: ${describeContent(found.info)} is not mountable: ${next}`,
      );
    }
    return found;
  }
  const mountable = candidates.filter((c) => c.info?.mountable);
  if (mountable.length === 1) return mountable[0]!;
  const encrypted = candidates.filter((c) => c.info?.type === 'crypto_LUKS');
  if (mountable.length === 0 && encrypted.length === 1) return encrypted[0]!;
  if (mountable.length === 0)
    throw new MountFaceError(
      `${source}: no mountable partition found; partitions: ${candidates.map(describe).join(', ') || 'none'}`,
    );
  throw new MountFaceError(
    `${source}: ${mountable.length} mountable partitions, say which with ${source}:N: ${mountable.map(describe).join(', ')}`,
  );
}

function backendKind(machine: Machine, requested: BackendKind | undefined): BackendKind {
  return chooseBackendKind(machine, {
    ...(requested ? { requested } : {}),
    loopAvailable: machine.loop.available(),
  });
}

/**
 * Map and mount. Everything this run made is taken back when a step fails or a signal comes
 * (then InterruptedError says so).
 */
export async function mountSource(
  operand: string,
  options: {
    dir?: string;
    rw: boolean;
    backend?: BackendKind;
    keyFile?: string;
    overlay?: string;
    /** --type: the filesystem type, instead of the probe's (needed where it recognises none). */
    type?: string;
    /** --options: filesystem options added to the ones every mount gets. */
    mountOptions?: string;
    /** --with: other images holding PVs of the VG of a `SOURCE:VG/LV` operand. */
    with?: readonly string[];
  },
  deps: MountFaceDeps,
  emit: (event: WorkflowEvent) => void = () => {},
): Promise<MountRecord> {
  const others = options.with ?? [];
  if (others.length > 0 && !splitLvOperand(operand, existsSync))
    throw new MountFaceError(
      `--with adds images holding PVs of a volume group: name its LV, as ${operand}:VG/LV`,
    );
  // An overlay protects one image: the others would be written through.
  if (others.length > 0 && options.overlay !== undefined)
    throw new MountFaceError(
      '--overlay protects one image, and --with images would be mapped without one: give one of them',
    );
  // --type and --options are checked before anything is made (an overlay mount is read-write).
  let fs: FsChoice;
  try {
    fs = checkFsChoice(deps.machine, {
      ...options,
      rw: options.rw || options.overlay !== undefined,
      ...(options.mountOptions ? { options: options.mountOptions } : {}),
    });
  } catch (error) {
    throw new MountFaceError(errorText(error));
  }
  // Overlay mode: the same mount, read-write, with a qcow2 overlay over the image as the source.
  if (options.overlay !== undefined) {
    const { overlay, ...direct } = options;
    return mountOnOverlay(
      operand,
      overlay || undefined,
      splitOperandSource(operand, splitSource),
      deps.machine,
      (over) => mountSource(over, { ...direct, rw: true }, deps, emit),
      (record) => unmountRecord(record, deps, emit, 'discard'),
    ).catch((error: unknown) => {
      throw error instanceof OverlayError ? new MountFaceError(error.message) : error;
    });
  }
  const kind = backendKind(deps.machine, options.backend);
  const lv = splitLvOperand(operand, existsSync);
  if (lv)
    return mountLogicalVolume(operand, lv, { ...options, fs }, kind, deps, emit).catch((error: unknown) => {
      throw error instanceof Error && error.name !== 'InterruptedError'
        ? new MountFaceError(error.message)
        : error;
    });
  const { source, partition } = splitSource(operand);
  const { machine } = deps;
  let refusal = '';
  const run = new MapRun(
    {
      operand: source,
      action: 'add',
      readOnly: !options.rw,
      sync: true,
      backend: kind,
      releaseIdleLoop: true,
      // A VM disk container is connected writable only for --rw.
      containerWritable: options.rw,
    },
    { machine: deps.machine, makeBackend: deps.makeBackend },
    (event) => {
      if (event.type === 'plan-refused') refusal = event.problems.join('; ');
      emit(event);
    },
  );
  const session = createSession(machine, deps.mountRoot ? { mountRoot: deps.mountRoot } : {});
  let mounted: MountedPartition | undefined;
  let recorded = false;
  /** The LUKS mapping this run opened (or tried to: a cut-short cryptsetup may leave it). */
  let luks: { name: string; kernelName: string } | undefined;
  /** Take back, newest first: the record, the mount, LUKS, the maps and the loop this run made. */
  const takeBack = async (): Promise<string> => {
    if (recorded && mounted) removeRecord(mounted.mountpoint);
    const said = await takeBackSteps([
      () => {
        if (!mounted) return undefined;
        session.unmount(mounted.mountpoint);
        return `${mounted.mountpoint} unmounted`;
      },
      async () => (luks && (await closeLuks(machine, luks)) ? `${luks.kernelName} closed` : undefined),
    ]);
    said.push(await run.takeBack('rollback'));
    return said.join('; ');
  };
  return deferSignals(
    async (interrupted) => {
      try {
        return await mountSteps();
      } catch (error) {
        const outcome = await takeBack();
        if (error instanceof MountFaceError || !run.source) throw error;
        throw new MountFaceError(`${errorText(error)} (${outcome})`);
      }

      async function mountSteps(): Promise<MountRecord> {
        const resolved = await run.resolve();
        if (!resolved) throw new MountFaceError(`${source}: nothing to mount`);
        const table = run.readTable();
        if (!table) throw new MountFaceError(noTable(source, resolved, machine));
        const planned = await run.plan(table);
        if (!planned) throw new MountFaceError(`${source}: cannot map its partitions: ${refusal}`);
        const disk = openSourceDisk(resolved, machine);
        let chosen: Candidate;
        try {
          chosen = choosePartition(
            source,
            planned.map((map) => ({
              number: map.number,
              info: probeContent(disk, map.start * 512, map.size * 512),
            })),
            partition,
          );
        } finally {
          disk.close();
        }
        const map = planned.find((m) => m.number === chosen.number)!;
        const encrypted = chosen.info?.type === 'crypto_LUKS';
        const what = `${source}:${map.number}`;
        // Never left to the kernel to guess: unknown content is mounted only as the type named.
        if (!chosen.info && !fs.type) throw new MountFaceError(unrecognisedContent(what, machine));
        let key: LuksKey | undefined;
        if (encrypted) {
          // Refused, or the passphrase asked, before anything is mapped.
          const problem = luksProblem(machine);
          if (problem) throw new MountFaceError(`${what}: ${problem}`);
          if (options.keyFile) key = { keyFile: options.keyFile };
          else if (deps.readPassphrase) key = { passphrase: await deps.readPassphrase(what) };
          else throw new MountFaceError(`${what}: LUKS needs a passphrase or --key-file`);
          interrupted.throwIfAborted();
        }
        const backend = await run.makeBackend();
        // A map that exists already is used as it is (never reloaded read-only: it is not ours).
        if (!backend.existing(resolved.parent).some((m) => m.number === map.number)) {
          const failures = await run.apply([map], interrupted, planned);
          if (failures > 0) throw new MountFaceError(`${source}:${map.number}: could not map it (see above)`);
        }
        interrupted.throwIfAborted();
        const existing = backend.existing(resolved.parent).find((m) => m.number === map.number);
        if (!existing) throw new MountFaceError(`${source}:${map.number}: its map is gone`);
        let device = existing.path;
        let content = chosen.info;
        let opened: LuksOpened | undefined;
        if (encrypted && key) {
          try {
            opened = await openLuks(machine, existing.path, luksNames(map), key, {
              readOnly: !options.rw,
              attempting: () => {
                luks = luksNames(map);
              },
            });
          } catch (error) {
            throw new MountFaceError(`${what}: ${errorText(error)}`);
          }
          interrupted.throwIfAborted();
          device = opened.path;
          content = probeOpened(machine, opened);
          if (content && !content.mountable)
            throw new MountFaceError(
              content.type === 'LVM2_member'
                ? `${what}: the LUKS volume holds ${describeContent(content)}; mount one of its LVs with ${what}/${content.volumeGroup ?? 'VG'}/LV`
                : `${what}: the LUKS volume holds ${describeContent(content)}, not a filesystem the kernel mounts directly`,
            );
        }
        const fstype = fs.type ?? (content ? kernelType(content) : undefined);
        if (!fstype) throw new MountFaceError(unrecognisedContent(`${what} (inside LUKS)`, machine));
        const wasReadOnly = machine.blockDevice(device).readOnly;
        try {
          mounted = session.mount({
            name: basename(device),
            device,
            readOnly: !options.rw || fs.readOnly,
            exec: false,
            fstype,
            options: fs.data,
            ...(options.dir ? { mountpoint: options.dir, ...nestedInRecorded(options.dir, machine) } : {}),
          });
        } catch (error) {
          throw new MountFaceError(`${source}:${map.number}: ${errorText(error)}`);
        }
        const record: MountRecord = {
          source: operand,
          // A container's maps are on its nbd device: the record names the image, whose connection umount finds.
          sourcePath: run.nbd?.file ?? resolved.parent.image?.file ?? resolved.parent.path,
          parent: resolved.parent.path,
          partition: map.number,
          mountpoint: mounted.mountpoint,
          device,
          fstype: mounted.fstype,
          readOnly: mounted.readOnly,
          restoreWritable: mounted.readOnly && !wasReadOnly,
          backend: kind,
          maps: run.created.map((c) => ({ number: c.map.number, name: c.map.name, path: c.path })),
          loop: run.attachedLoop ?? null,
          ...(opened
            ? { luks: { name: opened.name, kernelName: opened.kernelName, path: opened.path } }
            : {}),
        };
        writeRecord(record);
        recorded = true;
        return record;
      }
    },
    () => takeBack(),
  );
}

/** Why a source without a partition table is not mounted, pointing at its LVs when it is a whole-disk PV. */
function noTable(source: string, resolved: ResolvedSource, machine: Machine): string {
  const disk = openSourceDisk(resolved, machine);
  let info: ContentInfo | null;
  try {
    info = probeContent(disk, 0, resolved.read.sizeBytes);
  } catch {
    info = null;
  } finally {
    disk.close();
  }
  if (info?.type === 'LVM2_member' && info.volumeGroup)
    return `${source}: no partition table; the whole disk is ${describeContent(info)}: mount one of its logical volumes with ${source}:${info.volumeGroup}/LV`;
  return `${source}: no partition table found; nothing to map`;
}

const noRecord = (target: string): string => `${target}: not mounted by kpartx-tui mount (no record of it)`;

/**
 * The record of a mount by its mountpoint, or by its source (the only one of that source), or
 * undefined when no record names `target`.
 */
function recordOf(target: string): MountRecord | undefined {
  const records = listRecords();
  const absolute = resolve(target);
  const byDir = records.find((r) => r.mountpoint === absolute);
  if (byDir) return byDir;
  let real: string | undefined;
  try {
    real = realpathSync(target);
  } catch {
    real = undefined;
  }
  const bySource = records.filter(
    (r) =>
      r.source === target ||
      r.sourcePath === real ||
      r.sourcePath === absolute ||
      (r.overlay !== undefined && (r.overlay.image === real || r.overlay.image === absolute)) ||
      // An image a mount used with --with names that mount too.
      (r.with ?? []).some((w) => w.sourcePath === real || w.sourcePath === absolute),
  );
  if (bySource.length === 1) return bySource[0]!;
  if (bySource.length > 1)
    throw new MountFaceError(
      `${target}: mounted ${bySource.length} times (${bySource.map((r) => r.mountpoint).join(', ')}); name the directory`,
    );
  return undefined;
}

/**
 * Unmount and take back exactly what the mount made: its LV map or LUKS mapping, the partition maps
 * of each source it used, then each one's loop. Runs to its end when a signal comes. A loop or map
 * that existed before the mount stays.
 */
export async function unmountRecord(
  record: MountRecord,
  deps: MountFaceDeps,
  emit: (event: WorkflowEvent) => void = () => {},
  overlayEnd: OverlayEnd = 'keep',
): Promise<{ removed: string[]; loopReleased: boolean; released: string[]; overlay?: string }> {
  const { machine } = deps;
  const session: Session = createSession(machine, deps.mountRoot ? { mountRoot: deps.mountRoot } : {});
  /** The mount's own source, then each `--with` image it used: a delete run for each. */
  const sources: SourceRecord[] = [record, ...(record.with ?? [])];
  const runs = sources.map(
    (s) =>
      new MapRun(
        { operand: s.sourcePath, action: 'delete', readOnly: false, sync: true, backend: record.backend },
        { machine: deps.machine, makeBackend: deps.makeBackend },
        emit,
      ),
  );
  return deferSignals(
    async () => {
      if (machine.mounts.list().some((m) => m.target === record.mountpoint)) {
        const inside = mountedInside(record.mountpoint, machine);
        if (inside)
          throw new MountFaceError(`${inside} is mounted inside ${record.mountpoint}: unmount it first`);
        try {
          session.unmount(record.mountpoint);
        } catch (error) {
          throw new MountFaceError(errorText(error));
        }
      }
      // The mount made a writable map read-only (in another process): give it back its writability
      // once nothing has it mounted, as the session does within one process.
      if (record.restoreWritable) {
        try {
          const { devno } = machine.blockDevice(record.device);
          const mounted = machine.mounts
            .list()
            .some((m) => m.devno.major === devno.major && m.devno.minor === devno.minor);
          if (!mounted) machine.setReadOnly(record.device, false);
        } catch {
          // the map is gone: nothing to give back
        }
      }
      // An LV map this mount made sits on the partition maps (or on LUKS): it goes first.
      if (record.lv) {
        try {
          await detachLv(machine, record.lv);
        } catch (error) {
          throw new MountFaceError(`${record.source}: ${errorText(error)}`);
        }
      }
      // The LUKS mapping sits on the partition map: closed once unmounted, before the maps go.
      if (record.luks) {
        try {
          await closeLuks(machine, record.luks);
        } catch (error) {
          throw new MountFaceError(`${record.source}: ${errorText(error)}`);
        }
      }
      // Each source's partition maps (the `--with` images' first), then each one's loop.
      const resolved: boolean[] = [];
      for (const [i, source] of [...sources.entries()].reverse()) {
        const run = runs[i]!;
        const found = await run.resolve();
        resolved[i] = found !== undefined;
        if (!found) continue;
        if (found.parent.path !== source.parent)
          throw new MountFaceError(
            `${source.source}: its maps are now on ${found.parent.path}, not ${source.parent}; not touching them`,
          );
        const backend = await run.makeBackend();
        const current = backend.existing(found.parent);
        // Only the maps this mount made, and only while they are still the same maps.
        const ours = source.maps.filter((m) =>
          current.some((c) => c.number === m.number && c.path === m.path),
        );
        if (ours.length > 0) {
          const failures = await run.remove(new Set(ours.map((m) => m.number)), false);
          if (failures > 0)
            throw new MountFaceError(
              `${source.source}: could not remove ${ours.map((m) => m.name).join(', ')}`,
            );
        }
      }
      const released: string[] = [];
      for (const [i, source] of [...sources.entries()].reverse()) {
        if (!resolved[i] || !source.loop) continue;
        const fate = await runs[i]!.releaseLoopOf(source.loop);
        if (fate === 'failed' || fate === 'kept')
          throw new MountFaceError(`${source.source}: ${source.loop.path} is still in use; not released`);
        if (fate === 'released') released.push(source.loop.path);
      }
      const loopReleased = record.loop !== null && released.includes(record.loop.path);
      removeRecord(record.mountpoint);
      // The overlay is ended only now, its nbd connection gone with the maps.
      const overlay = record.overlay ? await endOverlay(machine, record.overlay, overlayEnd) : undefined;
      return {
        removed: runs.flatMap((run) => run.removed),
        loopReleased,
        released,
        ...(overlay ? { overlay } : {}),
      };
    },
    () => `the umount of ${record.mountpoint} ran to its end first`,
  );
}

export function processDeps(): MountFaceDeps {
  return {
    machine: createMachine(),
    makeBackend: loadBackend,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    // Never argv or the environment: stdin's next line for scripts, else the terminal, unechoed.
    readPassphrase: (what) =>
      process.stdin.isTTY
        ? askPassphrase({ input: process.stdin as NodeJS.ReadStream, output: process.stderr }, what)
        : nextStdinLine(),
  };
}

/**
 * `SOURCE:N` as a mount will name it when partition N (or the one mount would choose) holds LUKS,
 * read without attaching or mapping anything; undefined otherwise. passwd asks the passphrase
 * before the new password with this.
 */
export async function luksOperand(operand: string, deps: MountFaceDeps): Promise<string | undefined> {
  const lv = splitLvOperand(operand, existsSync);
  const { source, partition } = lv ?? splitSource(operand);
  const run = new MapRun(
    {
      operand: source,
      action: 'list',
      readOnly: true,
      sync: true,
      backend: backendKind(deps.machine, undefined),
    },
    { machine: deps.machine, makeBackend: deps.makeBackend },
    () => {},
  );
  try {
    const resolved = await run.resolve();
    const table = resolved ? run.readTable() : null;
    const planned = table ? await run.plan(table) : undefined;
    if (!resolved || !planned) return undefined;
    const disk = openSourceDisk(resolved, deps.machine);
    try {
      const candidates = planned.map((map) => ({
        number: map.number,
        info: probeContent(disk, map.start * 512, map.size * 512),
      }));
      if (lv) return lvLuksPartition(lv, disk, planned, candidates);
      const chosen = choosePartition(source, candidates, partition);
      return chosen.info?.type === 'crypto_LUKS' ? `${source}:${chosen.number}` : undefined;
    } finally {
      disk.close();
    }
  } catch {
    return undefined; // the mount itself says what is wrong
  }
}

/** Quoted disk text never reaches the terminal as controls. */
const shown = (text: string): string => displayText(text);

function fail(deps: MountFaceDeps, json: boolean, what: string, error: unknown): number {
  const message = errorText(error);
  if (json) deps.stdout(`${JSON.stringify({ error: `${what}: ${message}` })}\n`);
  else deps.stderr(`kpartx-tui ${what}: ${shown(message)}\n`);
  return error instanceof InterruptedError ? error.exitCode : 1;
}

export async function mountMain(args: string[], deps: MountFaceDeps = processDeps()): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(args);
  } catch (error) {
    deps.stderr(`kpartx-tui mount: ${errorText(error)}\n${MOUNT_USAGE}\n`);
    return 2;
  }
  const [operand, dir, ...extra] = parsed.operands;
  if (!operand || extra.length > 0 || parsed.overlayEnd || (parsed.rw && parsed.overlay !== undefined)) {
    if (parsed.rw && parsed.overlay !== undefined)
      deps.stderr('kpartx-tui mount: --rw writes to the image, --overlay to an overlay: give one\n');
    deps.stderr(`${MOUNT_USAGE}\n`);
    return 2;
  }
  try {
    const record = await mountSource(
      operand,
      {
        ...(dir ? { dir } : {}),
        rw: parsed.rw,
        ...(parsed.backend ? { backend: parsed.backend } : {}),
        ...(parsed.keyFile ? { keyFile: parsed.keyFile } : {}),
        ...(parsed.overlay !== undefined ? { overlay: parsed.overlay } : {}),
        ...(parsed.type ? { type: parsed.type } : {}),
        ...(parsed.options ? { mountOptions: parsed.options } : {}),
        ...(parsed.with.length > 0 ? { with: parsed.with } : {}),
      },
      deps,
    );
    if (record.overlay && !parsed.json)
      deps.stderr(
        `writes go to the overlay ${shown(record.overlay.path)}; ${shown(record.overlay.image)} is not written\n`,
      );
    if (parsed.json)
      deps.stdout(
        `${JSON.stringify({
          mountpoint: record.mountpoint,
          device: record.device,
          // An LV over a whole disk (no partition table) has no partition.
          partition: record.partition || null,
          fstype: record.fstype,
          readOnly: record.readOnly,
          backend: record.backend,
          maps: record.maps.map((m) => m.name),
          loop: record.loop?.path ?? null,
          luks: record.luks?.kernelName ?? null,
          overlay: record.overlay?.path ?? null,
          ...(record.with
            ? {
                with: record.with.map((w) => ({
                  source: w.source,
                  maps: w.maps.map((m) => m.name),
                  loop: w.loop?.path ?? null,
                })),
              }
            : {}),
        })}\n`,
      );
    else deps.stdout(`${record.mountpoint}\n`);
    return 0;
  } catch (error) {
    return fail(deps, parsed.json, 'mount', error);
  }
}

export async function umountMain(args: string[], deps: MountFaceDeps = processDeps()): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(args);
  } catch (error) {
    deps.stderr(`kpartx-tui umount: ${errorText(error)}\n${MOUNT_USAGE}\n`);
    return 2;
  }
  if (parsed.operands.length !== 1 || parsed.overlay !== undefined || parsed.rw || parsed.with.length > 0) {
    deps.stderr(`${MOUNT_USAGE}\n`);
    return 2;
  }
  try {
    const target = parsed.operands[0]!;
    const record = recordOf(target);
    if (!record) return await umountUnrecorded(target, parsed, deps);
    if (parsed.overlayEnd && !record.overlay)
      throw new MountFaceError(
        `${record.mountpoint}: --${parsed.overlayEnd} is for a mount made with --overlay; this one wrote to ${record.readOnly ? 'nothing' : 'the image directly'}`,
      );
    const done = await unmountRecord(record, deps, () => {}, parsed.overlayEnd ?? 'keep');
    if (done.overlay && !parsed.json) deps.stderr(`${shown(done.overlay)}\n`);
    if (parsed.json)
      deps.stdout(
        `${JSON.stringify({
          mountpoint: record.mountpoint,
          device: record.device,
          maps: done.removed,
          loop: done.loopReleased ? record.loop?.path : null,
          ...(record.with
            ? {
                with: record.with.map((w) => ({
                  source: w.source,
                  loop: w.loop && done.released.includes(w.loop.path) ? w.loop.path : null,
                })),
              }
            : {}),
          luks: record.luks?.kernelName ?? null,
          overlay: record.overlay
            ? { path: record.overlay.path, image: record.overlay.image, end: parsed.overlayEnd ?? 'keep' }
            : null,
        })}\n`,
      );
    return 0;
  } catch (error) {
    return fail(deps, parsed.json, 'umount', error);
  }
}

/**
 * umount SOURCE without a record (a mount killed before it wrote one): what kpartx-tui set up on
 * SOURCE goes as with `kpartx -d SOURCE` (unrecorded.ts); a directory (a mountpoint), or a source
 * with nothing of ours, has no record to act on.
 */
async function umountUnrecorded(target: string, parsed: Parsed, deps: MountFaceDeps): Promise<number> {
  let isSource = false;
  try {
    isSource = deps.machine.stat(target) !== 'other';
  } catch {
    isSource = false;
  }
  const done =
    isSource && !parsed.overlayEnd
      ? await removeUnrecorded(target, backendKind(deps.machine, undefined), deps)
      : undefined;
  if (!done) throw new MountFaceError(noRecord(target));
  const gone = [...done.removed, ...(done.loop ? [done.loop] : [])];
  if (done.kept.length > 0)
    throw new MountFaceError(
      `${target}: no record of a mount; ${gone.length > 0 ? `removed ${gone.join(', ')}; ` : ''}kept ${done.kept.map((k) => `${k.name} (${k.why})`).join('; ')}`,
    );
  if (parsed.json)
    deps.stdout(
      `${JSON.stringify({
        mountpoint: null,
        device: null,
        maps: done.removed,
        loop: done.loop,
        luks: done.luks[0] ?? null,
        overlay: null,
      })}\n`,
    );
  else
    deps.stderr(
      `${shown(`${target}: no record of a mount; removed what kpartx-tui had set up: ${gone.join(', ')}`)}\n`,
    );
  return 0;
}
