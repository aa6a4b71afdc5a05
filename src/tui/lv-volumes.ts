/**
 * The logical volumes of a source's mapped PV partitions (or of a source with no partition table
 * whose whole disk is a PV), offered by the mount session like the partition maps: each LV that can
 * be mapped here (a linear one with the loop backend; linear or striped with device-mapper) becomes
 * a row whose path is its LV map's, made on mount through the same lv-run code as
 * `kpartx-tui mount IMAGE:VG/LV`, and taken away again on unmount. A whole-disk PV's LV map sits on
 * the image's loop, attached on mount when none is bound and let go of after the LV map on unmount.
 * An LV with PVs on other sources the app was started with is mapped with them (lv-sources.ts, as
 * `kpartx-tui mount … --with` maps it): each source's partition maps or loop, then the LV map, all
 * taken back newest first on unmount. The others are rows that say why not. No React here.
 */

import { basename } from 'node:path';
import type { BackendKind, ExistingMap, MapBackend } from '../engine/backend.js';
import { errorText } from '../engine/errors.js';
import { holdersOf } from '../engine/holders.js';
import type { Machine } from '../engine/machine.js';
import { openSourceDisk, type ResolvedSource, resolveSource } from '../engine/source.js';
import type { VolumeGroupLayer } from '../engine/stack/index.js';
import type { LvMapPlan } from '../engine/stack/lv-map.js';
import type { WorkflowEvent } from '../engine/workflow/events.js';
import {
  attachLv,
  detachLv,
  type FoundLv,
  findAmong,
  findLogicalVolume,
  firstPlaceOf,
  type LvDevice,
  LvRunError,
  planOverMaps,
  WHOLE_DISK,
} from '../engine/workflow/lv-run.js';
import { attachLvAcross, detachLvAcross, type LvAcross } from '../engine/workflow/lv-sources.js';
import { loopStillBound, releaseLoop } from '../engine/workflow/release-loop.js';
import { type DevNo, formatDevNo } from '../io/devno.js';
import type { ContentInfo } from '../probe/index.js';
import type { ExistingMapView } from './model.js';

/** What the session needs to map an LV when it is picked. */
interface PendingLv {
  source: string;
  kind: 'dm' | 'loop';
  vg: string;
  lv: string;
  partitions: readonly { number: number; start: number; size: number }[];
  /** Partition map names as planned, by number (the LV map's name begins with its first PV's). */
  mapNames: ReadonlyMap<number, string>;
  /** The PV is inside a LUKS volume the session opened on partition `number`, at `path`. */
  inside?: { number: number; path: string };
  /** No partition table: the PV is the whole disk (the image's loop, attached on mount). */
  wholeDisk?: boolean;
  /** The app's write mode: a loop attached for a whole-disk PV is read-only unless it allows writes. */
  readOnly: boolean;
  /**
   * The LV has PVs on other sources given too (these, as paths): picking it maps what each source
   * needs (lv-sources.ts, as `kpartx-tui mount … --with` does) before the LV map.
   */
  others?: readonly string[];
}

/** An LV map the session made, and the image loop it attached for it (a whole-disk PV). */
interface MadeLv {
  device: LvDevice;
  loop?: { path: string; file: string };
  /** Made over several sources: their maps and loops, taken back after the LV map. */
  across?: LvAcross;
}

/** What a picked LV row became: the LV map's path, and the image loop attached for it, if any. */
export interface PreparedLv {
  path: string;
  loop?: string;
}

export interface LvSource {
  path: string;
  kind: 'dm' | 'loop';
  readOnly: boolean;
  partitions: readonly { number: number; start: number; size: number }[];
  mapNames: ReadonlyMap<number, string>;
  existing: readonly ExistingMap[];
  volumeGroups: readonly VolumeGroupLayer[];
  /** The VGs were read inside the LUKS volume opened on partition `number`, at `path`. */
  inside?: { number: number; path: string };
  /** No partition table: a PV with no partition is the whole disk itself. */
  wholeDisk?: boolean;
  /**
   * Several sources were given: the VGs are assembled across them, a PV on another naming it
   * (`source`). `here` is this source as its PVs name it; `command` gives another as a shell word.
   */
  across?: { here: string; command: (source: string) => string };
}

export interface LvRowHelpers {
  contentText(info: ContentInfo | null): string | undefined;
  /** Why the content is not mounted here (not a filesystem, a filesystem this kernel lacks). */
  notMountableWhy(info: ContentInfo | null, mapPath: string): string | undefined;
  mountpointsOf(devno: DevNo): string[];
}

/** The source's partition maps now, as the backend of `kind` finds them. */
export type MapsOf = (source: string, kind: 'dm' | 'loop') => Promise<readonly ExistingMap[]>;

/** How the session maps the other sources an LV needs: the app's backends, and what it tracks. */
export interface AcrossDeps {
  makeBackend(kind: BackendKind, machine: Machine): MapBackend | Promise<MapBackend>;
  onEvent(event: WorkflowEvent): void;
}

export function createLvVolumes(host: Machine, mapsOf: MapsOf, acrossDeps?: AcrossDeps) {
  /** LV map paths the rows offer, with how to make them. */
  const pending = new Map<string, PendingLv>();
  /** LV maps the session made, by path: taken away on unmount. */
  const made = new Map<string, MadeLv>();
  /** LV maps the session made over several sources, by path: taken away with what they needed. */
  const madeAcross = new Map<string, MadeLv>();

  /** The whole disk read as the one possible PV (a predicted loop reads the image file itself). */
  function findOnDisk(p: PendingLv, resolved: ResolvedSource): FoundLv {
    const disk = openSourceDisk(resolved, host);
    try {
      return findAmong(p.source, [{ number: WHOLE_DISK, label: p.source, disk }], p.vg, p.lv);
    } finally {
      disk.close();
    }
  }

  /** A whole-disk PV's LV planned over the source's parent (its loop, bound or predicted). */
  function planOnDisk(found: FoundLv, resolved: ResolvedSource): LvMapPlan {
    const { parent } = resolved;
    // A predicted loop is no node yet: its path is what it will be.
    const machine = {
      realpath: (path: string) => (resolved.loop?.state === 'predicted' ? path : host.realpath(path)),
    };
    const maps = [{ number: WHOLE_DISK, path: parent.path, devno: parent.devno }];
    return planOverMaps(machine, found, maps, () => parent.mapName);
  }

  async function find(p: PendingLv): Promise<FoundLv> {
    const resolved = await resolveSource(p.source, 'delete', { readOnly: true }, host);
    if ('nothing' in resolved) throw new Error(`${p.source}: no loop device bound, its maps are gone`);
    if (p.inside) {
      const facts = host.blockDevice(p.inside.path);
      const volume = host.openDisk(p.inside.path, facts.sizeBytes, facts.logicalSectorSize);
      try {
        const label = `${p.source} partition ${p.inside.number} (LUKS)`;
        return findAmong(p.source, [{ number: p.inside.number, label, disk: volume }], p.vg, p.lv);
      } finally {
        volume.close();
      }
    }
    const disk = openSourceDisk(resolved, host);
    try {
      return findLogicalVolume(disk, p.source, p.partitions, p.vg, p.lv);
    } finally {
      disk.close();
    }
  }

  /** The maps as they are, with an opened LUKS volume standing in for its partition's map. */
  function devicesOf(p: PendingLv, existing: readonly ExistingMap[]): ExistingMap[] {
    const inside = p.inside;
    if (!inside) return [...existing];
    const devno = host.deviceNumber(inside.path);
    return existing.map((m) =>
      m.number === inside.number && devno ? { ...m, path: inside.path, devno } : m,
    );
  }

  function plan(p: PendingLv, found: FoundLv, existing: readonly ExistingMap[]): LvMapPlan {
    return planOverMaps(host, found, existing, (number) => p.mapNames.get(number) ?? `p${number}`);
  }

  /** Rows for the mount session: once a partition is mapped, every LV of the VGs on the source. */
  async function rows(source: LvSource, helpers: LvRowHelpers): Promise<ExistingMapView[]> {
    if ((source.existing.length === 0 && !source.wholeDisk) || source.volumeGroups.length === 0) return [];
    const mapped = new Set(source.existing.map((m) => m.number));
    const out: ExistingMapView[] = [];
    for (const vg of source.volumeGroups) {
      const here = vg.physicalVolumes.filter(
        (pv) => !source.across || !pv.source || pv.source === source.across.here,
      );
      const elsewhere = [
        ...new Set(vg.physicalVolumes.filter((pv) => !here.includes(pv)).map((pv) => pv.source ?? '')),
      ];
      // A whole-disk PV needs no partition map: its LV map goes on the image's loop.
      const unmapped = source.wholeDisk
        ? []
        : here.map((pv) => pv.partition).filter((n) => n === undefined || n === null || !mapped.has(n));
      for (const lv of vg.logicalVolumes) {
        const base = {
          name: `${vg.name}/${lv.name}`,
          number: null,
          start: 0,
          size: lv.sizeSectors,
          readOnly: source.readOnly,
          holders: [],
          lv: { vg: vg.name, name: lv.name },
        };
        const contents = helpers.contentText(lv.content);
        const refuse = (why: string): ExistingMapView => ({
          ...base,
          path: '',
          devno: '',
          ...(contents ? { contents } : {}),
          notMountableWhy: why,
        });
        if (lv.attach.method === 'none') {
          out.push(refuse(lv.attach.text));
          continue;
        }
        if (unmapped.length > 0) {
          const which = unmapped.map((n) => (n ? `partition ${n}` : 'the whole disk')).join(', ');
          out.push(refuse(`its PV (${which}) is not mapped here`));
          continue;
        }
        const p: PendingLv = {
          source: source.path,
          kind: source.kind,
          vg: vg.name,
          lv: lv.name,
          partitions: source.partitions,
          mapNames: source.mapNames,
          readOnly: source.readOnly,
          ...(source.inside ? { inside: source.inside } : {}),
          ...(source.wholeDisk ? { wholeDisk: true } : {}),
        };
        let lvPlan: LvMapPlan;
        try {
          if (p.wholeDisk) {
            const resolved = await resolveSource(p.source, 'list', { readOnly: true }, host);
            if ('nothing' in resolved) continue;
            lvPlan = planOnDisk(findOnDisk(p, resolved), resolved);
          } else lvPlan = plan(p, await find(p), devicesOf(p, source.existing));
        } catch (error) {
          // An LV with extents on another source given: the mount face maps all of them (--with).
          const across = source.across;
          if (
            across &&
            elsewhere.length > 0 &&
            error instanceof LvRunError &&
            / which is not on /.test(error.message)
          ) {
            // Mapped from here unless the PVs here are inside LUKS (the command is the way then).
            const mappable = acrossDeps !== undefined && !source.inside;
            const why = mappable ? acrossRefusal(source, lv) : undefined;
            if (mappable && why === undefined) {
              out.push(acrossRow(p, elsewhere, base, contents, helpers, lv.content));
              continue;
            }
            if (why !== undefined) {
              out.push(refuse(why));
              continue;
            }
            const withs = elsewhere.map((other) => ` --with ${across.command(other)}`).join('');
            out.push(
              refuse(
                `it uses a PV on another image (${elsewhere.map(across.command).join(', ')}): mount it with \`kpartx-tui mount ${across.command(source.path)}:${vg.name}/${lv.name}${withs}\``,
              ),
            );
          } else out.push(refuse(errorText(error)));
          continue;
        }
        if (source.kind === 'loop' && !lvPlan.loop.ok) {
          out.push(refuse(lvPlan.loop.reason));
          continue;
        }
        const path = `${host.nodes.path}/${lvPlan.kernelName}`;
        pending.set(path, p);
        const devno = host.deviceNumber(path);
        const why = helpers.notMountableWhy(lv.content, path);
        out.push({
          ...base,
          name: lvPlan.name,
          path,
          devno: devno ? formatDevNo(devno) : 'LV map made on mount',
          ...(devno ? { mountpoints: helpers.mountpointsOf(devno) } : {}),
          ...(contents ? { contents } : {}),
          ...(why ? { notMountableWhy: why } : {}),
        });
      }
    }
    return out;
  }

  /** Where an LV over several sources is, once mapped: its key until then. */
  const acrossKey = (p: PendingLv): string => `${p.source}:${p.vg}/${p.lv}`;
  /** LV maps made over several sources, by the key of their row. */
  const acrossMade = new Map<string, string>();

  /** Why an LV over several sources cannot be mapped with this backend; undefined when it can. */
  function acrossRefusal(
    source: LvSource,
    lv: VolumeGroupLayer['logicalVolumes'][number],
  ): string | undefined {
    if (source.kind === 'loop' && lv.attach.needs === 'device-mapper') return lv.attach.text;
    return undefined;
  }

  /** The row of an LV over several sources: its map's path once made, its key until then. */
  function acrossRow(
    p: PendingLv,
    others: readonly string[],
    base: Omit<ExistingMapView, 'path' | 'devno'>,
    contents: string | undefined,
    helpers: LvRowHelpers,
    content: ContentInfo | null,
  ): ExistingMapView {
    const key = acrossKey(p);
    const entry = { ...p, others };
    const madePath = acrossMade.get(key);
    const devno = madePath ? host.deviceNumber(madePath) : undefined;
    const path = madePath && devno ? madePath : key;
    pending.set(path, entry);
    const why = helpers.notMountableWhy(content, path);
    return {
      ...base,
      ...(madePath && devno ? { name: basename(madePath) } : {}),
      path,
      devno: devno
        ? formatDevNo(devno)
        : `LV map made on mount, with ${others.length === 1 ? 'the PV' : 'the PVs'} on ${others.map((o) => basename(o)).join(', ')}`,
      ...(devno ? { mountpoints: helpers.mountpointsOf(devno) } : {}),
      ...(contents ? { contents } : {}),
      ...(why ? { notMountableWhy: why } : {}),
    };
  }

  /** Map what each source needs, then the LV map over them (lv-sources.ts, as the mount face does). */
  async function prepareAcross(p: PendingLv, mountReadOnly: boolean): Promise<PreparedLv> {
    const made = await attachLvAcross(
      host,
      [p.source, ...(p.others ?? [])],
      { vg: p.vg, lv: p.lv },
      {
        readOnly: p.readOnly,
        backend: p.kind,
        containerWritable: !p.readOnly,
        lvReadOnly: mountReadOnly || p.readOnly,
      },
      acrossDeps!.makeBackend,
      acrossDeps!.onEvent,
    );
    const path = made.device.path;
    madeAcross.set(path, { device: made.device, across: made });
    acrossMade.set(acrossKey(p), path);
    pending.set(path, p);
    return { path };
  }

  async function prepareOnDisk(p: PendingLv, mountReadOnly: boolean): Promise<PreparedLv> {
    const resolved = await resolveSource(p.source, 'add', { readOnly: p.readOnly }, host);
    if ('nothing' in resolved) throw new Error(`${p.source}: nothing to map`);
    const attachedLoop =
      resolved.loop?.state === 'attached' && resolved.parent.image
        ? { path: resolved.loop.path, file: resolved.parent.image.file }
        : undefined;
    try {
      const lvPlan = planOnDisk(findOnDisk(p, resolved), resolved);
      const attached = await attachLv(host, p.kind, lvPlan, {
        readOnly: mountReadOnly || resolved.readOnly,
        sync: true,
        like: host.realpath(resolved.parent.path),
      });
      // A loop attached now is the session's even when the LV map was there already.
      if (attached.created || attachedLoop)
        made.set(attached.device.path, {
          device: attached.device,
          ...(attachedLoop ? { loop: attachedLoop } : {}),
        });
      return { path: attached.device.path, ...(attachedLoop ? { loop: attachedLoop.path } : {}) };
    } catch (error) {
      if (attachedLoop) releaseOwnLoop(attachedLoop);
      throw error;
    }
  }

  /** Let go of an image loop the session attached, unless something still uses it; its path when it went. */
  function releaseOwnLoop(loop: { path: string; file: string }): string | undefined {
    if (!loopStillBound(host, loop.path, loop.file)) return undefined;
    const devno = host.deviceNumber(loop.path);
    // Mounts, maps and loops over it (another LV's, a partition's) keep it.
    const users = devno ? holdersOf(host, devno) : [];
    const fate = releaseLoop(host, loop, users, 'rollback', () => {});
    return fate === 'released' ? loop.path : undefined;
  }

  return {
    rows,
    /** The LV maps made over several sources of which `isSource` is one (a clean-up of it takes them first). */
    madeOver: (isSource: (operand: string) => boolean): string[] =>
      [...madeAcross.entries()]
        .filter(([, entry]) => entry.across?.units.some((u) => isSource(u.operand)))
        .map(([path]) => path),
    /** The sources of the LV maps made over several that are still there, for the leave report. */
    acrossSources: (): string[] => [
      ...new Set(
        [...madeAcross.values()].flatMap((entry) => entry.across?.units.map((u) => u.operand) ?? []),
      ),
    ],
    /** Whether `path` is an LV row's map path. */
    isLv: (path: string): boolean => pending.has(path),
    /**
     * Make the LV map of a picked row (lv-run's attachLv, as the mount face does) before it is
     * mounted; an LV map already there (ours, same table) is used as it is. A whole-disk PV's image
     * gets its loop first (read-only unless the write mode allows writes) when none is bound.
     */
    async prepare(path: string, readOnly: boolean): Promise<PreparedLv> {
      const p = pending.get(path);
      if (!p) return { path };
      if (p.others) return prepareAcross(p, readOnly);
      if (p.wholeDisk) return prepareOnDisk(p, readOnly);
      const found = await find(p);
      const existing = devicesOf(p, await mapsOf(p.source, p.kind));
      const lvPlan = plan(p, found, existing);
      const first = existing.find((m) => m.number === firstPlaceOf(found).number)!;
      const attached = await attachLv(host, p.kind, lvPlan, {
        readOnly,
        sync: true,
        like: host.realpath(first.path),
      });
      if (attached.created) made.set(attached.device.path, { device: attached.device });
      return { path: attached.device.path };
    },
    /**
     * Take away the LV map this session made for `path` (after its unmount), then the image loop
     * it attached for it once nothing else of ours is on that loop. Says what went.
     */
    async release(path: string): Promise<{ path: string; loop?: string } | undefined> {
      const across = madeAcross.get(path);
      if (across?.across) {
        await detachLvAcross(host, across.across);
        madeAcross.delete(path);
        for (const [key, madePath] of acrossMade) if (madePath === path) acrossMade.delete(key);
        return { path };
      }
      const entry = made.get(path);
      if (!entry) return undefined;
      await detachLv(host, entry.device);
      made.delete(path);
      const loop = entry.loop && releaseOwnLoop(entry.loop);
      return { path: entry.device.path, ...(loop ? { loop } : {}) };
    },
  };
}
