/**
 * Everything of one source that is still set up (its maps, in whichever backend made them, the
 * mounts of those maps, the image's loop device) and taking all of it down in the one order that
 * works: unmount (the newest mount first, so nested mounts go before their parents), remove the
 * maps, then release the image's loop if kpartx-tui attached it. What cannot go stays, and is
 * reported with why. This is how a run killed while mounted (kill -9, a crash, a power cut of the
 * terminal) is cleaned up afterwards; the maps may also be the C kpartx's, which are recognised
 * the same way.
 */
import type { BackendKind, EmitEvent, ExistingMap, MapBackend, MapEvent, ParentDevice } from './backend.js';
import { errorText } from './errors.js';
import { attachedByUs, releaseImageLoop } from './image-loop.js';
import type { Machine } from './machine.js';
import { unmangleDmName } from './names.js';
import type { MountedPartition, Session } from './session.js';
import { removeStacked, stackedOver } from './workflow/stack-remove.js';

export interface SourceRemains {
  maps: (ExistingMap & { backend: BackendKind })[];
  /** Mounts of those maps, wherever and by whomever made, in mount order. */
  mounts: MountedPartition[];
  /** The image's loop device (null for a block device): whether kpartx-tui attached it. */
  loop: { path: string; ours: boolean } | null;
}

type TeardownSession = Pick<Session, 'listMounted' | 'unmount'>;

/** What is set up on `parent` now, over every backend given (a map is found by the one that made it). */
export function whatRemains(
  backends: MapBackend[],
  session: Pick<Session, 'listMounted'>,
  kernel: Pick<Machine, 'loop'>,
  parent: ParentDevice,
): SourceRemains {
  const maps = backends.flatMap((backend) =>
    backend.existing(parent).map((map) => ({ ...map, backend: backend.kind })),
  );
  const bound = parent.image ? kernel.loop.list().find((loop) => loop.path === parent.path) : undefined;
  return {
    maps,
    mounts: session.listMounted(maps),
    loop: bound ? { path: bound.path, ours: attachedByUs(bound) } : null,
  };
}

/** Nothing that a teardown would change: no map, no mount, no loop of ours. */
export const nothingRemains = (remains: SourceRemains): boolean =>
  remains.maps.length === 0 && remains.mounts.length === 0 && !remains.loop?.ours;

export type TeardownEvent =
  | MapEvent
  | { type: 'unmounted'; name: string; mountpoint: string }
  | { type: 'unmount-failed'; name: string; mountpoint: string; message: string }
  | { type: 'loop-released'; path: string }
  /** The image's loop stays: `why` says so (not ours, still in use, the detach failed). */
  | { type: 'loop-kept'; path: string; why: string };

export interface TeardownResult {
  unmounted: number;
  removed: number;
  released: boolean;
  /** Everything that stays, each with why: `mount <mountpoint>`, a map name or the loop device. */
  kept: { what: string; why: string }[];
}

/** A map the removal left in place, and why. */
function keptBy(event: MapEvent): { what: string; why: string } | undefined {
  switch (event.type) {
    case 'busy':
      return {
        what: event.name,
        why: event.holders.length > 0 ? `in use by ${event.holders.join(', ')}` : 'still open',
      };
    case 'not-removed':
      return { what: event.name, why: `not removed (${event.reason})` };
    case 'failed':
    case 'refused':
      return { what: event.name, why: event.message };
    default:
      return undefined;
  }
}

/** Unmount, unmap, release, in that order; each step is reported as it happens. */
export async function tearDown(
  backends: MapBackend[],
  session: TeardownSession,
  kernel: Machine,
  parent: ParentDevice,
  options: { sync: boolean },
  emit: (event: TeardownEvent) => void,
): Promise<TeardownResult> {
  const result: TeardownResult = { unmounted: 0, removed: 0, released: false, kept: [] };
  const keep = (what: string, why: string) => result.kept.push({ what, why });
  const before = whatRemains(backends, session, kernel, parent);

  for (const mount of [...before.mounts].reverse()) {
    try {
      session.unmount(mount.mountpoint);
      result.unmounted++;
      emit({ type: 'unmounted', name: mount.name, mountpoint: mount.mountpoint });
    } catch (error) {
      keep(`mount ${mount.mountpoint}`, errorText(error));
      emit({
        type: 'unmount-failed',
        name: mount.name,
        mountpoint: mount.mountpoint,
        message: errorText(error),
      });
    }
  }

  const onMapEvent: EmitEvent = (event) => {
    if (event.type === 'removed') result.removed++;
    const kept = keptBy(event);
    if (kept) result.kept.push(kept);
    emit(event);
  };
  // LV maps and LUKS mappings kpartx-tui stacked on the partition maps hold them: unmounted and
  // removed first, the LV maps before the LUKS mappings under them.
  const stacked = stackedOver(kernel, parent.devno, before.maps);
  const stackedDevices = [
    ...stacked.lvs.map((lv) => ({ name: unmangleDmName(lv.name), devno: lv.devno })),
    ...stacked.luks.map((luks) => ({ name: luks.name, devno: luks.devno })),
  ];
  for (const { name, devno } of stackedDevices) {
    for (const mount of kernel.mounts
      .list()
      .filter((m) => m.devno.major === devno.major && m.devno.minor === devno.minor)
      .reverse()) {
      try {
        session.unmount(mount.target);
        result.unmounted++;
        emit({ type: 'unmounted', name, mountpoint: mount.target });
      } catch (error) {
        keep(`mount ${mount.target}`, errorText(error));
        emit({ type: 'unmount-failed', name, mountpoint: mount.target, message: errorText(error) });
      }
    }
  }
  await removeStacked(kernel, stacked, options.sync, onMapEvent);
  for (const backend of backends) {
    if (!before.maps.some((map) => map.backend === backend.kind)) continue;
    await backend.remove({ parent, force: false, sync: options.sync }, onMapEvent);
  }

  if (before.loop) {
    const { path } = before.loop;
    const left = backends.reduce((count, backend) => count + backend.existing(parent).length, 0);
    const release = left > 0 ? undefined : releaseImageLoop(kernel, path);
    const why =
      left > 0
        ? `still used by ${left} map${left === 1 ? '' : 's'}`
        : release?.outcome === 'foreign'
          ? `not attached by kpartx-tui (losetup -d ${path} releases it)`
          : release?.outcome === 'failed'
            ? errorText(release.error)
            : undefined;
    if (why) {
      keep(path, why);
      emit({ type: 'loop-kept', path, why });
    } else if (release?.outcome === 'detached') {
      result.released = true;
      emit({ type: 'loop-released', path });
    }
  }
  return result;
}

/** One line for a result: what went, then what stays (each step said why as it happened). */
export function teardownSummary(result: TeardownResult): string {
  const done = [
    result.unmounted > 0 ? `${result.unmounted} unmounted` : '',
    `${result.removed} map${result.removed === 1 ? '' : 's'} removed`,
    result.released ? 'loop released' : '',
  ].filter(Boolean);
  if (result.kept.length === 0) return `${done.join(', ')}.`;
  return `${done.join(', ')}; kept: ${result.kept.map((k) => k.what).join(', ')} (why: see above)`;
}
