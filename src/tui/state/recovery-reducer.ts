/**
 * The recovery screens inside the mount session, as one pure reducer: the system recognised on
 * the mount, the accounts list, the masked password entry (typed twice), the planned reset with
 * its options, and what was written. The password lives here only until it is planned or dropped.
 */
import type { AccountView, SystemView } from '../../recovery/summary.js';
import type { ResetDone, ResetPreview } from '../recovery-model.js';

export type RecoveryView = 'accounts' | 'password' | 'confirm' | 'done';

export interface ResetFlags {
  unlock: boolean;
  clearForcedChange: boolean;
  clearAccountExpiry: boolean;
}

export interface RecoveryState {
  /** The mountpoint `system` was read from: it stands only while that mount does. */
  mountpoint: string | null;
  system: SystemView | null;
  /** Why the system could not be looked at (an unreadable tree). */
  systemError: string | null;
  /** null: the mount session's own screen. */
  view: RecoveryView | null;
  accounts: AccountView[];
  /** Highlighted account. */
  index: number;
  user: string | null;
  /** Which of the two entries is being typed. */
  entry: 'first' | 'second';
  first: string;
  second: string;
  /** Both entries typed and equal: the reset is to be planned (the hook does it). */
  entered: boolean;
  flags: ResetFlags;
  preview: ResetPreview | null;
  done: ResetDone | null;
  /** Planning or writing: keys wait. */
  busy: boolean;
  /** The last refusal or failure, shown on the recovery screen. */
  error: string | null;
}

export const NO_FLAGS: ResetFlags = { unlock: false, clearForcedChange: false, clearAccountExpiry: false };

export const initialRecoveryState: RecoveryState = {
  mountpoint: null,
  system: null,
  systemError: null,
  view: null,
  accounts: [],
  index: 0,
  user: null,
  entry: 'first',
  first: '',
  second: '',
  entered: false,
  flags: NO_FLAGS,
  preview: null,
  done: null,
  busy: false,
  error: null,
};

export type RecoveryAction =
  | { type: 'system'; mountpoint: string; system: SystemView | null; error?: string }
  | { type: 'accounts'; accounts: AccountView[] }
  | { type: 'move'; delta: number }
  | { type: 'ask-password'; user: string }
  | { type: 'append'; text: string }
  | { type: 'erase' }
  /** Enter in the password field: on to the second entry, or both entered (or refused). */
  | { type: 'submit-entry' }
  | { type: 'busy' }
  | { type: 'planned'; preview: ResetPreview; flags: ResetFlags }
  | { type: 'written'; done: ResetDone }
  | { type: 'error'; message: string }
  | { type: 'back' }
  | { type: 'close' };

/** Nothing of the password is kept once the flow moves past it. */
const forgetPassword = { first: '', second: '', entry: 'first' as const, entered: false };

export function recoveryReducer(state: RecoveryState, action: RecoveryAction): RecoveryState {
  switch (action.type) {
    case 'system':
      return {
        ...initialRecoveryState,
        mountpoint: action.mountpoint,
        system: action.system,
        systemError: action.error ?? null,
      };
    case 'accounts':
      return {
        ...state,
        view: 'accounts',
        accounts: action.accounts,
        index: Math.min(state.index, Math.max(0, action.accounts.length - 1)),
        ...forgetPassword,
        preview: null,
        done: null,
        busy: false,
        error: null,
      };
    case 'move':
      return {
        ...state,
        index: Math.max(0, Math.min(state.accounts.length - 1, state.index + action.delta)),
      };
    case 'ask-password':
      return {
        ...state,
        view: 'password',
        user: action.user,
        ...forgetPassword,
        flags: NO_FLAGS,
        preview: null,
        error: null,
      };
    case 'append':
    case 'erase': {
      if (state.view !== 'password' || state.entered) return state;
      const value = state.entry === 'first' ? state.first : state.second;
      const next = action.type === 'append' ? value + action.text : [...value].slice(0, -1).join('');
      return state.entry === 'first' ? { ...state, first: next } : { ...state, second: next };
    }
    case 'submit-entry':
      if (state.view !== 'password' || state.entered) return state;
      if (state.entry === 'first')
        return state.first === ''
          ? { ...state, error: 'The new password is empty.' }
          : { ...state, entry: 'second', error: null };
      if (state.first !== state.second)
        return {
          ...state,
          ...forgetPassword,
          error: 'The two entries differ: nothing was changed. Type the new password again.',
        };
      return { ...state, entered: true, error: null };
    case 'busy':
      return { ...state, busy: true, entered: false, error: null };
    case 'planned':
      return { ...state, view: 'confirm', busy: false, preview: action.preview, flags: action.flags };
    case 'written':
      return { ...state, view: 'done', busy: false, ...forgetPassword, preview: null, done: action.done };
    case 'error':
      // A password the hash refuses is typed again from the start.
      return {
        ...state,
        ...(state.view === 'password' ? forgetPassword : {}),
        busy: false,
        error: action.message,
      };
    case 'back':
      // confirm → password entry again (nothing written); password → accounts; accounts → mount.
      if (state.view === 'confirm' || state.view === 'password')
        return { ...state, view: 'accounts', ...forgetPassword, preview: null, error: null };
      return { ...state, view: null, ...forgetPassword, preview: null, done: null, error: null };
    case 'close':
      return { ...state, view: null, ...forgetPassword, preview: null, done: null, error: null };
  }
}
