/**
 * Converting a container this kernel cannot attach (no nbd) to a raw copy: ask the target path,
 * show the free-space check, run qemu-img with a progress bar, then open the copy.
 */

export type ConvertPhase = 'ask' | 'checked' | 'running' | 'failed';

export interface ConvertState {
  /** The container being converted (only ever read). */
  source: string;
  /** The raw copy's path, editable while asking. */
  target: string;
  phase: ConvertPhase;
  /** The free-space check for `target`, once Enter asked for it. */
  space: { ok: boolean; text: string } | null;
  percent: number;
  /** Why the check or the conversion failed (or that it was stopped). */
  error: string | null;
}

export type ConvertAction =
  | { type: 'edit'; text: string }
  | { type: 'checked'; target: string; space: { ok: boolean; text: string } }
  | { type: 'refused'; message: string }
  | { type: 'started' }
  | { type: 'progress'; percent: number }
  | { type: 'failed'; message: string }
  | { type: 'reask' };

export function openConvert(source: string, target: string): ConvertState {
  return { source, target, phase: 'ask', space: null, percent: 0, error: null };
}

export function convertReducer(state: ConvertState, action: ConvertAction): ConvertState {
  switch (action.type) {
    case 'edit':
      return state.phase === 'ask' ? { ...state, target: action.text, error: null, space: null } : state;
    case 'checked':
      return { ...state, phase: 'checked', target: action.target, space: action.space, error: null };
    case 'refused':
      return { ...state, phase: 'ask', space: null, error: action.message };
    case 'started':
      return { ...state, phase: 'running', percent: 0, error: null };
    case 'progress':
      return state.phase === 'running'
        ? { ...state, percent: Math.max(state.percent, action.percent) }
        : state;
    case 'failed':
      return { ...state, phase: 'failed', error: action.message };
    case 'reask':
      return { ...state, phase: 'ask', space: null, error: null, percent: 0 };
  }
}
