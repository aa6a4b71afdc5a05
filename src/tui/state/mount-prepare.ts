/**
 * Before a mount, when there is something to choose: where (the mountpoint, shown and editable:
 * `o`), and for content the probe does not recognise, which of the kernel's filesystem types and
 * what options. Steps: mountpoint → type → options, each only when it applies; Enter on the last
 * one mounts, Esc goes back a step (and from the first, closes). Pure.
 */

export type PrepareStep = 'mountpoint' | 'type' | 'options';

export interface MountPrepare {
  /** The map (or LV map) to mount, and its name. */
  map: string;
  name: string;
  step: PrepareStep;
  /** The step it was opened at: Esc there closes it. */
  first: PrepareStep;
  /** Where to mount, as typed (`~` allowed); starts as the default mountpoint. */
  mountpoint: string;
  /** Directory names Tab found for the mountpoint when several match. */
  candidates: string[];
  /** The content is not recognised: a type must be picked before mounting. */
  needsType: boolean;
  /** The types this kernel mounts, to pick from. */
  types: string[];
  typeIndex: number;
  /** Filesystem options typed (added to the safe ones). */
  options: string;
}

export type PrepareAction =
  | { type: 'edit'; text: string }
  | { type: 'move'; delta: number }
  | { type: 'next' }
  | { type: 'back' }
  | { type: 'completed'; from: string; text: string; candidates: string[] };

export function openPrepare(
  from: Pick<MountPrepare, 'map' | 'name' | 'mountpoint' | 'needsType' | 'types'>,
  step: PrepareStep,
): MountPrepare {
  // A type the kernel is likely to be asked for first: ext4 where it is there.
  const ext4 = from.types.indexOf('ext4');
  return { ...from, step, first: step, candidates: [], typeIndex: Math.max(0, ext4), options: '' };
}

/** Enter on this step mounts (nothing is left to choose). */
export function prepareReady(prepare: MountPrepare): boolean {
  return prepare.step === 'options' || (prepare.step === 'mountpoint' && !prepare.needsType);
}

/** The type picked, once the type step has been passed. */
export function chosenType(prepare: MountPrepare): string | undefined {
  return prepare.needsType && prepare.step === 'options' ? prepare.types[prepare.typeIndex] : undefined;
}

/** The next state; null when it is closed. */
export function prepareReducer(state: MountPrepare, action: PrepareAction): MountPrepare | null {
  switch (action.type) {
    case 'edit':
      if (state.step === 'mountpoint') return { ...state, mountpoint: action.text, candidates: [] };
      if (state.step === 'options') return { ...state, options: action.text };
      return state;
    case 'move': {
      if (state.step !== 'type' || state.types.length === 0) return state;
      const typeIndex = Math.min(state.types.length - 1, Math.max(0, state.typeIndex + action.delta));
      return { ...state, typeIndex };
    }
    case 'next':
      if (state.step === 'mountpoint' && state.needsType) return { ...state, step: 'type', candidates: [] };
      if (state.step === 'type' && state.types.length > 0) return { ...state, step: 'options' };
      return state;
    case 'back':
      if (state.step === state.first) return null;
      if (state.step === 'options') return { ...state, step: 'type' };
      return { ...state, step: 'mountpoint' };
    case 'completed':
      if (state.step !== 'mountpoint' || state.mountpoint !== action.from) return state;
      return { ...state, mountpoint: action.text, candidates: action.candidates };
  }
}
