/**
 * Which backend makes the maps: device-mapper when the kernel has it (the C kpartx's way), else
 * one loop device per partition. `--backend dm|loop` forces a choice; asking for device-mapper
 * where there is none fails with the C tool's message.
 */
import type { BackendKind, MapBackend } from '../backend.js';
import type { Machine } from '../machine.js';

export const DM_PREREQ_MESSAGE = 'device mapper prerequisites not met';

export class BackendUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendUnavailable';
  }
}

export interface SelectOptions {
  /** `--backend`; automatic when absent. */
  requested?: BackendKind;
  /** Whether loop devices can be attached (`/dev/loop-control` exists). */
  loopAvailable: boolean;
}

/** The C tool's prerequisite: a device-mapper that knows the `linear` target. */
export function dmUsable(machine: Pick<Machine, 'dm'>): boolean {
  try {
    if (!machine.dm) return false;
    return machine.dm.targetTypes().some((type) => type.startsWith('linear'));
  } catch {
    return false;
  }
}

/** The backend kind a run will use, without loading it. */
export function chooseBackendKind(machine: Pick<Machine, 'dm'>, options: SelectOptions): BackendKind {
  return chooseBackendKindFor(dmUsable(machine), options);
}

/** The same choice, given whether device-mapper is usable (or only expected to be). */
export function chooseBackendKindFor(dm: boolean, options: SelectOptions): BackendKind {
  if (options.requested === 'dm') {
    if (!dm) throw new BackendUnavailable(DM_PREREQ_MESSAGE);
    return 'dm';
  }
  if (options.requested === 'loop') {
    if (!options.loopAvailable) {
      throw new BackendUnavailable('loop devices are not available (no /dev/loop-control)');
    }
    return 'loop';
  }
  if (dm) return 'dm';
  if (options.loopAvailable) return 'loop';
  throw new BackendUnavailable(DM_PREREQ_MESSAGE);
}

export async function loadBackend(kind: BackendKind, machine: Machine): Promise<MapBackend> {
  if (kind === 'dm') {
    const { createDmBackend } = await import('./dm.js');
    return createDmBackend(machine);
  }
  const { createLoopBackend } = await import('./loop.js');
  return createLoopBackend(machine);
}
