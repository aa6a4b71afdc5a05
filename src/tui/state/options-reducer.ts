/** Map options as a pure reducer: every change yields a new options object and so a new preview. */
import type { BackendChoice, MapOptions } from '../model.js';

export type OptionsAction =
  | { type: 'toggle'; option: 'readOnly' | 'forceGpt' | 'sync' }
  | { type: 'cycle-backend' }
  | { type: 'set-delimiter'; delimiter: string | null };

const BACKENDS: BackendChoice[] = ['auto', 'dm', 'loop'];

export function optionsReducer(options: MapOptions, action: OptionsAction): MapOptions {
  switch (action.type) {
    case 'toggle':
      return { ...options, [action.option]: !options[action.option] };
    case 'cycle-backend': {
      const next = BACKENDS[(BACKENDS.indexOf(options.backend) + 1) % BACKENDS.length] ?? 'auto';
      return { ...options, backend: next };
    }
    case 'set-delimiter':
      return { ...options, delimiter: action.delimiter };
  }
}
