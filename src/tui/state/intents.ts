/**
 * What the user can ask for: the intents key maps and components call. useKpartxApp (src/tui/hooks)
 * carries them out, with every effect they need.
 */

import type { MountView, OverlayEnd } from '../model.js';
import type { OpKind } from './app-reducer.js';
import type { OptionsAction } from './options-reducer.js';
import type { ResetFlags } from './recovery-reducer.js';

export interface RecoveryActions {
  /** Called once a mount is there: what system does it hold? */
  recognise(mount: MountView): void;
  openAccounts(): void;
  moveAccount(delta: number): void;
  /** Start the reset of the highlighted account. */
  chooseAccount(): void;
  /** Characters typed into the current password entry. */
  typePassword(text: string): void;
  erase(): void;
  /** Enter in the password field: on to the second entry, or (both equal) plan the reset. */
  submitPassword(): void;
  toggleFlag(flag: keyof ResetFlags): void;
  commit(): void;
  back(): void;
  remountWritable(): void;
}

export interface AppActions {
  highlightSource(index: number): void;
  moveSource(delta: number): void;
  editPath(text: string | null): void;
  /** Tab in the path field: complete it from the file system; settles once the field has its answer. */
  completePath(): Promise<void> | undefined;
  /** Enter in the path field: open what was typed, `~` read as the user's home. */
  openTypedPath(text: string): void;
  openSource(path: string): void;
  refresh(): void;
  back(): void;
  setOption(action: OptionsAction): void;
  editDelimiter(text: string | null, commit?: boolean): void;
  movePartition(delta: number): void;
  /** Settles once the confirmation is up (or refused): keys typed meanwhile wait for it. */
  request(kind: OpKind): Promise<void> | undefined;
  cancelConfirm(): void;
  runConfirmed(): void;
  dismissProgress(): void;
  openMount(): void;
  moveMount(delta: number): void;
  toggleMountReadOnly(): void;
  toggleMountExec(): void;
  /**
   * Mount the highlighted map; settles once it is mounted or has failed. A LUKS one asks its
   * passphrase first; content the probe does not recognise asks for a filesystem type first.
   */
  mountSelected(): Promise<void> | undefined;
  /** `o`: choose where the highlighted map is mounted (the default shown, editable) first. */
  chooseMountpoint(): void;
  /** Typing in the field of the mount being prepared (its mountpoint, or its options). */
  editPrepare(text: string): void;
  /** ↑↓ in the list of filesystem types. */
  movePrepare(delta: number): void;
  /** Enter while preparing: on to the next choice, or mount; settles once mounted or failed. */
  prepareNext(): Promise<void> | undefined;
  /** Esc while preparing: back a step, or close. */
  prepareBack(): void;
  /** Tab in the mountpoint field: complete the directory; settles once the field has its answer. */
  completeMountpoint(): Promise<void> | undefined;
  /** `m` once mounted: pick another map to mount (a /boot inside the root), the mounts kept. */
  mountAnother(): void;
  /** Esc while picking another: back to what is mounted. */
  showMounted(): void;
  /** Characters typed into the LUKS passphrase field. */
  typePassphrase(text: string): void;
  erasePassphrase(): void;
  /** Enter in the passphrase field: open the LUKS volume and mount what it holds. */
  submitPassphrase(): Promise<void> | undefined;
  cancelPassphrase(): void;
  openShell(): void;
  unmount(): void;
  finishSession(): void;
  /** `c` on a container this kernel cannot attach: ask where its raw copy goes. */
  openConvert(): void;
  editConvertTarget(text: string): void;
  /** Enter: check the target (free space), then convert and open the copy. */
  submitConvert(): Promise<void> | undefined;
  /** Esc: stop a running conversion (the part file removed), else go back a step. */
  cancelConvert(): void;
  /** `o` on the layout: ask where the overlay goes (or say why overlay mode is unavailable); with one in use, ask how to end it. */
  openOverlay(): void;
  /** The overlay path field's text; null closes it. */
  editOverlay(text: string | null): void;
  /** Enter in the overlay field: make the overlay and re-open the app on it; settles once done or refused. */
  submitOverlay(): Promise<void> | undefined;
  /** The answer to "commit, discard or keep": null goes on with the overlay. Settles once done. */
  endOverlay(end: OverlayEnd | null): Promise<void> | undefined;
  quit(): void;
  interrupt(): void;
  /** Ctrl-L: the screen drawn again from scratch, as in any full-screen terminal program. */
  repaint(): void;
  /** The system on the mount, its accounts, a password reset. */
  recovery: RecoveryActions;
}
