/**
 * What the user can ask for: the intents key maps and components call. useKpartxApp (src/tui/hooks)
 * carries them out, with every effect they need.
 */
import type { OpKind } from './app-reducer.js';
import type { OptionsAction } from './options-reducer.js';

export interface AppActions {
  highlightSource(index: number): void;
  editPath(text: string | null): void;
  openSource(path: string): void;
  refresh(): void;
  back(): void;
  setOption(action: OptionsAction): void;
  editDelimiter(text: string | null, commit?: boolean): void;
  movePartition(delta: number): void;
  request(kind: OpKind): void;
  cancelConfirm(): void;
  runConfirmed(): void;
  dismissProgress(): void;
  openMount(): void;
  highlightMount(index: number): void;
  toggleMountReadOnly(): void;
  toggleMountExec(): void;
  mountSelected(path: string): void;
  openShell(): void;
  unmount(): void;
  finishSession(): void;
  quit(): void;
  interrupt(): void;
}
