/**
 * Navigation and everything the screens show, as one pure reducer. Components dispatch intents
 * (src/tui/state/intents.ts) through the container; effects (engine calls) live in
 * hooks/use-kpartx-app.ts.
 */
import type {
  Inspection,
  MapOptions,
  OpOutcome,
  OverlayView,
  ProgressEvent,
  ProgressStep,
  SourceEntry,
} from '../model.js';
import { DEFAULT_OPTIONS } from '../model.js';
import { type ConvertAction, type ConvertState, convertReducer, openConvert } from './convert-reducer.js';
import {
  initialMountState,
  type MountAction,
  type MountState,
  mountReducer,
  offeredMaps,
} from './mount-reducer.js';
import { type OptionsAction, optionsReducer } from './options-reducer.js';
import { progressReducer } from './progress-reducer.js';
import {
  initialRecoveryState,
  type RecoveryAction,
  type RecoveryState,
  recoveryReducer,
} from './recovery-reducer.js';

export type Screen = 'sources' | 'layout' | 'confirm' | 'progress' | 'mount' | 'convert';
/** `teardown`: unmount every mount of the source's maps, remove the maps, release the image's loop. */
export type OpKind = 'add' | 'remove' | 'teardown';

/** Where the app goes once the overlay is ended: out, back to the list, or on, on the image read-only. */
export type OverlayExit = 'quit' | 'back' | 'stay';

export interface Operation {
  kind: OpKind;
  steps: ProgressStep[];
  running: boolean;
  outcome: OpOutcome | null;
}

export interface Message {
  text: string;
  tone: 'info' | 'error' | 'warn';
}

export interface AppState {
  screen: Screen;
  sources: SourceEntry[];
  /** Highlighted row of the source list. */
  sourceIndex: number;
  /** Text of the path field while the user types a path, else null. */
  pathInput: string | null;
  /** What Tab found when several entries match the typed path (shown under the field). */
  pathCandidates: string[];
  sourcePath: string | null;
  inspection: Inspection | null;
  options: MapOptions;
  /** Delimiter field while editing; the options already follow it (live preview). */
  delimiterInput: string | null;
  delimiterBefore: string | null;
  /** Highlighted row of the partition table. */
  partitionIndex: number;
  confirm: OpKind | null;
  /** Where a confirmation was asked from, and where "no" goes back to. */
  confirmReturn: 'layout' | 'mount';
  op: Operation | null;
  mountIndex: number;
  mount: MountState;
  /** The system on the session's mount, its accounts and a password reset. */
  recovery: RecoveryState;
  /** A container's conversion to a raw copy (kernels without nbd). */
  convert: ConvertState | null;
  message: Message | null;
  /** The app is on its way out (unmounting, looking at what stays): keys do nothing more. */
  leaving: boolean;
  /**
   * Overlay mode: the qcow2 overlay the app writes to. The source is then the overlay file
   * (attached read-write through qemu-nbd), and the image under it is only read.
   */
  overlay: OverlayView | null;
  /** The overlay path field (after `o` on the layout), else null. */
  overlayInput: string | null;
  /** Commit, discard or keep the overlay is being asked, and where the app goes after. */
  overlayEnd: OverlayExit | null;
}

export const initialAppState: AppState = {
  screen: 'sources',
  sources: [],
  sourceIndex: 0,
  pathInput: null,
  pathCandidates: [],
  sourcePath: null,
  inspection: null,
  options: DEFAULT_OPTIONS,
  delimiterInput: null,
  delimiterBefore: null,
  partitionIndex: 0,
  confirm: null,
  confirmReturn: 'layout',
  op: null,
  mountIndex: 0,
  mount: initialMountState,
  recovery: initialRecoveryState,
  convert: null,
  message: null,
  leaving: false,
  overlay: null,
  overlayInput: null,
  overlayEnd: null,
};

export type AppAction =
  | { type: 'sources-loaded'; sources: SourceEntry[] }
  | { type: 'source-highlight'; index: number }
  | { type: 'source-move'; delta: number }
  | { type: 'path-input'; text: string | null }
  /** Tab's answer for the text `from`: dropped when the field has changed meanwhile. */
  | { type: 'path-completed'; from: string; text: string; candidates: string[] }
  | { type: 'open-source'; path: string }
  | { type: 'inspected'; inspection: Inspection }
  | { type: 'inspect-failed'; message: string }
  | { type: 'back' }
  | { type: 'options'; action: OptionsAction }
  | { type: 'delimiter-edit'; text: string | null; commit?: boolean }
  | { type: 'partition-move'; delta: number }
  | { type: 'confirm'; kind: OpKind | null }
  | { type: 'op-start'; kind: OpKind }
  | { type: 'op-event'; event: ProgressEvent }
  | { type: 'op-finished'; outcome: OpOutcome }
  | { type: 'op-dismiss' }
  | { type: 'mount-open' }
  | { type: 'mount-move'; delta: number }
  | { type: 'mount'; action: MountAction }
  | { type: 'recovery'; action: RecoveryAction }
  | { type: 'convert-open'; source: string; target: string }
  | { type: 'convert'; action: ConvertAction }
  | { type: 'convert-close' }
  | { type: 'message'; message: Message | null }
  | { type: 'leaving'; text: string }
  | { type: 'overlay-input'; text: string | null }
  /** The overlay is made: the app is re-opened on it, writing (the image under it is only read). */
  | { type: 'overlay-opened'; overlay: OverlayView }
  | { type: 'overlay-ask'; exit: OverlayExit | null }
  | { type: 'overlay-ended' };

function clamp(value: number, count: number): number {
  return Math.max(0, Math.min(value, count - 1));
}

export function appReducer(state: AppState, action: AppAction): AppState {
  switch (action.type) {
    case 'sources-loaded':
      return {
        ...state,
        sources: action.sources,
        sourceIndex: clamp(state.sourceIndex, action.sources.length),
      };
    case 'source-highlight':
      return { ...state, sourceIndex: action.index };
    case 'source-move':
      return { ...state, sourceIndex: clamp(state.sourceIndex + action.delta, state.sources.length) };
    case 'path-input':
      return { ...state, pathInput: action.text, pathCandidates: [] };
    case 'path-completed':
      if (state.pathInput !== action.from) return state;
      return { ...state, pathInput: action.text, pathCandidates: action.candidates };
    case 'convert-open':
      return {
        ...state,
        screen: 'convert',
        convert: openConvert(action.source, action.target),
        message: null,
      };
    case 'convert':
      return state.convert ? { ...state, convert: convertReducer(state.convert, action.action) } : state;
    case 'convert-close':
      return { ...state, screen: 'layout', convert: null };
    case 'open-source':
      return {
        ...state,
        convert: null,
        screen: 'layout',
        sourcePath: action.path,
        pathInput: null,
        pathCandidates: [],
        inspection: null,
        partitionIndex: 0,
        message: null,
      };
    case 'inspected':
      return {
        ...state,
        inspection: action.inspection,
        partitionIndex: clamp(state.partitionIndex, action.inspection.layout.partitions.length),
      };
    case 'inspect-failed': {
      const message: Message = { text: action.message, tone: 'error' };
      // A source that cannot be read (a mistyped path, a directory, a device gone) has no layout
      // to show: back to the list, saying why, rather than a blank screen that every key leaves stuck.
      if (state.screen === 'layout')
        return { ...state, screen: 'sources', sourcePath: null, inspection: null, message };
      // Elsewhere (an operation's or a mount's look again) what was shown stays, with the reason.
      return { ...state, message };
    }
    case 'back':
      if (state.screen === 'layout')
        return { ...state, screen: 'sources', sourcePath: null, inspection: null, message: null };
      if (state.screen === 'confirm') return { ...state, screen: state.confirmReturn, confirm: null };
      if (state.screen === 'mount') return { ...state, screen: 'layout', mount: initialMountState };
      return state;
    case 'options':
      return { ...state, options: optionsReducer(state.options, action.action) };
    case 'delimiter-edit': {
      if (action.text === null) {
        // Esc: back to the delimiter in force before editing.
        return {
          ...state,
          delimiterInput: null,
          options: action.commit ? state.options : { ...state.options, delimiter: state.delimiterBefore },
        };
      }
      const before = state.delimiterInput === null ? state.options.delimiter : state.delimiterBefore;
      return {
        ...state,
        delimiterInput: action.text,
        delimiterBefore: before,
        options: { ...state.options, delimiter: action.text },
      };
    }
    case 'partition-move': {
      const count = state.inspection?.layout.partitions.length ?? 0;
      return { ...state, partitionIndex: clamp(state.partitionIndex + action.delta, count) };
    }
    case 'confirm':
      return action.kind
        ? {
            ...state,
            screen: 'confirm',
            confirm: action.kind,
            confirmReturn: state.screen === 'mount' ? 'mount' : 'layout',
            message: null,
          }
        : { ...state, screen: state.confirmReturn, confirm: null };
    case 'op-start':
      return {
        ...state,
        message: state.message?.tone === 'info' ? null : state.message,
        screen: 'progress',
        confirm: null,
        op: { kind: action.kind, steps: [], running: true, outcome: null },
      };
    case 'op-event':
      return state.op
        ? { ...state, op: { ...state.op, steps: progressReducer(state.op.steps, action.event) } }
        : state;
    case 'op-finished':
      return state.op ? { ...state, op: { ...state.op, running: false, outcome: action.outcome } } : state;
    case 'op-dismiss':
      if (state.op?.running) return state;
      return { ...state, screen: state.mount.phase === 'clean' ? 'mount' : 'layout', op: null };
    case 'mount-open': {
      // The picker starts on the partition highlighted in the layout, when it is on offer.
      const picked = state.inspection?.layout.partitions[state.partitionIndex]?.number;
      const index = offeredMaps(state.inspection).findIndex((m) => m.number === picked);
      return {
        ...state,
        screen: 'mount',
        mount: initialMountState,
        mountIndex: Math.max(0, index),
        message: null,
      };
    }
    case 'mount-move': {
      const count = offeredMaps(state.inspection).length;
      return { ...state, mountIndex: clamp(state.mountIndex + action.delta, count) };
    }
    case 'mount':
      return {
        ...state,
        mount: mountReducer(state.mount, action.action),
        // A note (`Back from the shell.`) is about the moment it was said: the next step clears it.
        ...(action.action.type !== 'tree' && state.message?.tone === 'info' ? { message: null } : {}),
      };
    case 'recovery':
      return { ...state, recovery: recoveryReducer(state.recovery, action.action) };
    case 'message':
      return { ...state, message: action.message };
    case 'leaving':
      return { ...state, leaving: true, message: { text: action.text, tone: 'warn' } };
    case 'overlay-input':
      return { ...state, overlayInput: action.text, ...(action.text === null ? {} : { message: null }) };
    case 'overlay-opened':
      return {
        ...state,
        overlay: action.overlay,
        overlayInput: null,
        overlayEnd: null,
        // The overlay exists to be written: its maps are read-write (the image stays read-only under it).
        options: { ...state.options, readOnly: false },
        screen: 'layout',
        sourcePath: action.overlay.path,
        inspection: null,
        partitionIndex: 0,
        mount: initialMountState,
        message: null,
      };
    case 'overlay-ask':
      return {
        ...state,
        overlayEnd: action.exit,
        ...(action.exit ? { screen: 'layout' as const, confirm: null, message: null } : {}),
      };
    case 'overlay-ended':
      // The image was to be protected: after its overlay the app goes on read-only, not direct.
      return { ...state, overlay: null, overlayEnd: null, options: { ...state.options, readOnly: true } };
  }
}

/**
 * Started with one path: straight to its layout, drawn at once when the caller has already looked
 * at the source (with the default options) rather than after a "Reading…" frame.
 */
export function initialState(paths: string[], first?: Inspection): AppState {
  if (!(paths.length === 1 && paths[0])) return initialAppState;
  return { ...initialAppState, screen: 'layout', sourcePath: paths[0], inspection: first ?? null };
}
