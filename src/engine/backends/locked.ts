/**
 * What both backends share around their own work: every operation holds the parent device's lock
 * (two runs never interleave on one device), and an update is an add followed, when that fully
 * succeeded, by removing the maps of partitions that are gone.
 */
import type {
  EmitEvent,
  ExistingMap,
  MapBackend,
  MapEvent,
  MapRequest,
  OpResult,
  ParentDevice,
  RemoveRequest,
} from '../backend.js';
import { errorText } from '../errors.js';
import type { MachineLocks } from '../machine.js';

/**
 * Why an add stopped before its end: the failure of one map, or an interruption noticed before
 * the next map (the rollback that follows is the same).
 */
export function stopEvent(
  error: unknown,
  request: MapRequest,
  name: string,
  op: 'create' | 'reload' | 'resume' | 'rename',
): MapEvent {
  const { interrupted, parent } = request;
  if (interrupted?.aborted && error === interrupted.reason) {
    return {
      type: 'refused',
      name: parent.path,
      message: `${parent.path}: interrupted before ${name}; removing the maps this run made`,
    };
  }
  return { type: 'failed', name, op, message: errorText(error) };
}

/** An add refused before it changed anything, because `count` partitions cannot be mapped. */
export function refusedRunEvent(parent: ParentDevice, count: number): MapEvent {
  return {
    type: 'refused',
    name: parent.path,
    message: `${parent.path}: no maps created or changed: ${count} partition${count === 1 ? '' : 's'} cannot be mapped`,
  };
}

export interface BackendSteps {
  kind: MapBackend['kind'];
  add(request: MapRequest, emit: EmitEvent): Promise<OpResult>;
  /** Remove the parent's maps whose partitions are not in `request.maps`. */
  removeStale(request: MapRequest, emit: EmitEvent): Promise<OpResult>;
  remove(request: RemoveRequest, emit: EmitEvent): Promise<OpResult>;
  existing(parent: ParentDevice): ExistingMap[];
}

export function lockedBackend(steps: BackendSteps, locks: MachineLocks, lockWaitMs?: number): MapBackend {
  const locked = <T>(parent: ParentDevice, work: () => Promise<T>): Promise<T> =>
    locks.withLock(parent, parent.path, work, lockWaitMs);
  return {
    kind: steps.kind,
    add: (request, emit) => locked(request.parent, () => steps.add(request, emit)),
    update: (request, emit) =>
      locked(request.parent, async () => {
        const added = await steps.add(request, emit);
        return added.failures > 0 ? added : steps.removeStale(request, emit);
      }),
    remove: (request, emit) => locked(request.parent, () => steps.remove(request, emit)),
    existing: steps.existing,
  };
}
