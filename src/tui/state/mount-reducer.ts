/** The guided mount session: pick → mounted → (shell) → unmounted → unmapped → clean. */
import type { MountView } from '../model.js';

export type MountPhase = 'pick' | 'working' | 'mounted' | 'clean' | 'failed';

export interface MountState {
  phase: MountPhase;
  readOnly: boolean;
  /** Mount without noexec: programs on the filesystem may run. Off unless asked for. */
  exec: boolean;
  mount: MountView | null;
  /** What happened last, shown under the panel. */
  log: string[];
  /** The passphrase being typed for a LUKS map (masked on screen; dropped once submitted). */
  passphrase: { path: string; name: string; value: string } | null;
}

export const initialMountState: MountState = {
  phase: 'pick',
  readOnly: true,
  exec: false,
  mount: null,
  log: [],
  passphrase: null,
};

export type MountAction =
  | { type: 'toggle-read-only' }
  | { type: 'toggle-exec' }
  | { type: 'working'; what: string }
  /** `note`: why the mount is not what was asked (read-only although read-write was chosen). */
  | { type: 'mounted'; mount: MountView; note?: string }
  | { type: 'tree'; tree: string[] }
  | { type: 'unmounted' }
  | { type: 'clean'; what: string }
  | { type: 'failed'; message: string }
  | { type: 'reset' }
  /** A LUKS map was picked: ask its passphrase. */
  | { type: 'ask-passphrase'; path: string; name: string }
  | { type: 'passphrase-type'; text: string }
  | { type: 'passphrase-erase' }
  | { type: 'passphrase-cancel' }
  /** A LUKS volume was opened and stays open (its LVs are offered): back to picking. */
  | { type: 'opened'; what: string };

export function mountReducer(state: MountState, action: MountAction): MountState {
  switch (action.type) {
    case 'toggle-read-only':
      return state.phase === 'pick' ? { ...state, readOnly: !state.readOnly } : state;
    case 'toggle-exec':
      return state.phase === 'pick' ? { ...state, exec: !state.exec } : state;
    case 'working':
      return { ...state, phase: 'working', passphrase: null, log: [...state.log, action.what] };
    case 'ask-passphrase':
      return state.phase === 'pick'
        ? { ...state, passphrase: { path: action.path, name: action.name, value: '' } }
        : state;
    case 'passphrase-type':
      return state.passphrase
        ? { ...state, passphrase: { ...state.passphrase, value: state.passphrase.value + action.text } }
        : state;
    case 'passphrase-erase':
      return state.passphrase
        ? {
            ...state,
            passphrase: { ...state.passphrase, value: [...state.passphrase.value].slice(0, -1).join('') },
          }
        : state;
    case 'passphrase-cancel':
      return { ...state, passphrase: null };
    case 'opened':
      return { ...state, phase: 'pick', passphrase: null, log: [...state.log, action.what] };
    case 'mounted':
      return {
        ...state,
        phase: 'mounted',
        mount: action.mount,
        log: [
          ...state.log,
          action.mount.earlier
            ? `${action.mount.source} was already mounted on ${action.mount.mountpoint} (earlier run): taken over`
            : `mounted ${action.mount.source} on ${action.mount.mountpoint}`,
          ...(action.note ? [action.note] : []),
        ],
      };
    case 'tree':
      return state.mount ? { ...state, mount: { ...state.mount, tree: action.tree } } : state;
    case 'unmounted':
      return { ...state, phase: 'pick', mount: null, log: [...state.log, 'unmounted'] };
    case 'clean':
      return { ...state, phase: 'clean', mount: null, log: [...state.log, action.what] };
    case 'failed':
      return {
        ...state,
        phase: state.mount ? 'mounted' : 'pick',
        log: [...state.log, `error: ${action.message}`],
      };
    case 'reset':
      return { ...initialMountState, readOnly: state.readOnly, exec: state.exec };
  }
}

/** The part of an inspection that says which maps the session offers. */
interface MapsOfLayout<M> {
  layout: { partitions: readonly { number: number; kind: string }[] };
  existing: readonly M[];
  volumes?: readonly M[];
}

/**
 * The maps the session offers to mount, in order: not known content that is no filesystem (LUKS,
 * LVM, swap…, explained instead) and not an extended partition's 1 KiB map (its logical partitions
 * have their own maps). Unknown content stays on offer. The LVs of mapped PV partitions follow the
 * maps, offered the same way (those that cannot be mapped here carry the reason).
 */
export function offeredMaps<M extends { number: number | null; notMountableWhy?: unknown }>(
  inspection: MapsOfLayout<M> | null,
): M[] {
  if (!inspection) return [];
  const extended = new Set(
    inspection.layout.partitions.filter((p) => p.kind === 'extended').map((p) => p.number),
  );
  return [...inspection.existing, ...(inspection.volumes ?? [])].filter(
    (m) => !m.notMountableWhy && !(m.number !== null && extended.has(m.number)),
  );
}
