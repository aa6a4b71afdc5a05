/**
 * The guided mount session: pick → mounted → (shell) → unmounted → unmapped → clean. Several
 * filesystems may be mounted at once (a root, then its /boot inside it): `m` goes back to picking
 * with them kept, and they are unmounted newest first.
 */
import type { MountView } from '../model.js';
import { type MountPrepare, type PrepareAction, prepareReducer } from './mount-prepare.js';

export type MountPhase = 'pick' | 'working' | 'mounted' | 'clean' | 'failed';

export interface MountState {
  phase: MountPhase;
  readOnly: boolean;
  /** Mount without noexec: programs on the filesystem may run. Off unless asked for. */
  exec: boolean;
  /** The session's first mount (the root): the shell, the tree and the accounts are of this one. */
  mount: MountView | null;
  /** Every mount the session holds, in the order they were made (`mount` is the first). */
  mounts: MountView[];
  /** Choosing where, which type and what options, before a mount. */
  prepare: MountPrepare | null;
  /** The phase a step started from: a failure goes back there. */
  before?: MountPhase;
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
  mounts: [],
  prepare: null,
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
  /** One mount is gone (all of them when no mountpoint is given). */
  | { type: 'unmounted'; mountpoint?: string }
  /** Back to picking a map, the mounts kept. */
  | { type: 'mount-another' }
  /** From picking back to the mounts. */
  | { type: 'show-mounted' }
  | { type: 'open-prepare'; prepare: MountPrepare }
  | { type: 'prepare'; action: PrepareAction }
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
      return state.phase === 'pick' && !state.prepare ? { ...state, readOnly: !state.readOnly } : state;
    case 'toggle-exec':
      return state.phase === 'pick' && !state.prepare ? { ...state, exec: !state.exec } : state;
    case 'working':
      return {
        ...state,
        phase: 'working',
        before: state.phase,
        passphrase: null,
        log: [...state.log, action.what],
      };
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
    case 'mounted': {
      // A mount made again on its mountpoint (remounted read-write) takes its place.
      const at = state.mounts.findIndex((m) => m.mountpoint === action.mount.mountpoint);
      const mounts =
        at < 0 ? [...state.mounts, action.mount] : state.mounts.map((m, i) => (i === at ? action.mount : m));
      return {
        ...state,
        phase: 'mounted',
        mount: mounts[0] ?? null,
        mounts,
        prepare: null,
        log: [
          ...state.log,
          action.mount.earlier
            ? `${action.mount.source} was already mounted on ${action.mount.mountpoint} (earlier run): taken over`
            : `mounted ${action.mount.source} on ${action.mount.mountpoint}`,
          ...(action.note ? [action.note] : []),
        ],
      };
    }
    case 'tree': {
      if (!state.mount) return state;
      const mount = { ...state.mount, tree: action.tree };
      return { ...state, mount, mounts: [mount, ...state.mounts.slice(1)] };
    }
    case 'unmounted': {
      const gone = state.mounts.find((m) => m.mountpoint === action.mountpoint);
      const mounts = action.mountpoint ? state.mounts.filter((m) => m !== gone) : [];
      return {
        ...state,
        phase: mounts.length > 0 ? 'mounted' : 'pick',
        mount: mounts[0] ?? null,
        mounts,
        log: [...state.log, gone && mounts.length > 0 ? `unmounted ${gone.mountpoint}` : 'unmounted'],
      };
    }
    case 'mount-another':
      return state.phase === 'mounted' ? { ...state, phase: 'pick' } : state;
    case 'show-mounted':
      return state.mounts.length > 0 ? { ...state, phase: 'mounted', prepare: null } : state;
    case 'open-prepare':
      return state.phase === 'pick' ? { ...state, prepare: action.prepare } : state;
    case 'prepare':
      return state.prepare ? { ...state, prepare: prepareReducer(state.prepare, action.action) } : state;
    case 'clean':
      return {
        ...state,
        phase: 'clean',
        mount: null,
        mounts: [],
        prepare: null,
        log: [...state.log, action.what],
      };
    case 'failed':
      return {
        ...state,
        phase: state.before === 'pick' || state.mounts.length === 0 ? 'pick' : 'mounted',
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
