/**
 * The recovery effects of the mount session: recognise the system on a new mount, list accounts,
 * remount read-write, plan and write a password reset. State changes go through the app reducer.
 */
import { type Dispatch, type MutableRefObject, useEffect, useMemo } from 'react';
import { errorText } from '../../engine/errors.js';
import { InterruptedError } from '../../engine/signals.js';
import type { MountView, TuiEngine } from '../model.js';
import type { AppAction, AppState } from '../state/app-reducer.js';
import type { RecoveryActions } from '../state/intents.js';
import type { RecoveryAction, ResetFlags } from '../state/recovery-reducer.js';

export function useRecoveryActions(
  engine: TuiEngine,
  dispatch: Dispatch<AppAction>,
  stateRef: MutableRefObject<AppState>,
  mounted: MutableRefObject<MountView | null>,
  onInterrupted: (error: InterruptedError, what: string) => void,
): RecoveryActions {
  const entered = stateRef.current.recovery.entered;
  const recovery = useMemo(() => {
    const act = (action: RecoveryAction) => dispatch({ type: 'recovery', action });
    const say = (text: string, tone: 'info' | 'warn' | 'error' = 'warn') =>
      dispatch({ type: 'message', message: { text, tone } });

    const listAccounts = (mount: MountView) => {
      try {
        act({ type: 'accounts', accounts: engine.recovery.listAccounts(mount) });
      } catch (error) {
        say(errorText(error), 'error');
      }
    };

    const plan = (flags: ResetFlags) => {
      const { recovery } = stateRef.current;
      const mount = mounted.current;
      if (!mount || !recovery.user) return;
      if (recovery.preview) engine.recovery.discardReset(recovery.preview.token);
      act({ type: 'busy' });
      // A frame first: hashing (yescrypt) takes a moment and the screen should say so.
      setImmediate(() => {
        try {
          const preview = engine.recovery.prepareReset(mount, {
            user: recovery.user!,
            password: stateRef.current.recovery.first,
            ...flags,
          });
          act({ type: 'planned', preview, flags });
        } catch (error) {
          act({ type: 'error', message: errorText(error) });
        }
      });
    };

    const actions: RecoveryActions = {
      recognise(mount) {
        try {
          act({ type: 'system', mountpoint: mount.mountpoint, system: engine.recovery.findSystem(mount) });
        } catch (error) {
          act({ type: 'system', mountpoint: mount.mountpoint, system: null, error: errorText(error) });
        }
      },
      openAccounts() {
        const mount = mounted.current;
        const { system } = stateRef.current.recovery;
        if (!mount) return;
        if (system?.kind !== 'linux') {
          say(
            system?.kind === 'windows'
              ? 'A Windows system: kpartx-tui does not reset Windows passwords (see the note above).'
              : 'No Linux root on this filesystem: no accounts to list.',
          );
          return;
        }
        listAccounts(mount);
      },
      moveAccount: (delta) => act({ type: 'move', delta }),
      chooseAccount() {
        const { recovery } = stateRef.current;
        const account = recovery.accounts[recovery.index];
        const mount = mounted.current;
        if (!account || !mount) return;
        if (!account.resettable) {
          say(`${account.name}: not reset here: ${account.notResettableWhy}.`);
          return;
        }
        if (mount.readOnly) {
          say('Mounted read-only: press w to remount it read-write first.');
          return;
        }
        act({ type: 'ask-password', user: account.name });
      },
      typePassword: (text) => act({ type: 'append', text }),
      erase: () => act({ type: 'erase' }),
      submitPassword: () => act({ type: 'submit-entry' }),
      toggleFlag(flag) {
        const { flags } = stateRef.current.recovery;
        plan({ ...flags, [flag]: !flags[flag] });
      },
      commit() {
        const { recovery } = stateRef.current;
        const mount = mounted.current;
        if (!recovery.preview || !mount) return;
        act({ type: 'busy' });
        try {
          const done = engine.recovery.commitReset(mount, recovery.preview.token);
          act({ type: 'written', done });
          say(`${done.user}'s password was written; x unmounts and unmaps as usual.`, 'info');
          const tree = engine.listTree(mount.mountpoint);
          dispatch({ type: 'mount', action: { type: 'tree', tree } });
        } catch (error) {
          act({ type: 'error', message: errorText(error) });
        }
      },
      back() {
        const { recovery } = stateRef.current;
        if (recovery.preview) engine.recovery.discardReset(recovery.preview.token);
        const mount = mounted.current;
        // Back to the list after a write: it shows the account's new state.
        if (recovery.view === 'done' && mount) listAccounts(mount);
        else act({ type: 'back' });
      },
      remountWritable() {
        const mount = mounted.current;
        if (!mount) return;
        if (!mount.readOnly) {
          say(`${mount.mountpoint} is already mounted read-write.`, 'info');
          return;
        }
        dispatch({
          type: 'mount',
          action: { type: 'working', what: `remounting ${mount.mountpoint} read-write…` },
        });
        engine.remountWritable(mount).then(
          (again) => {
            mounted.current = again;
            dispatch({ type: 'mount', action: { type: 'mounted', mount: again } });
            say(`${again.source} is mounted read-write now.`, 'info');
          },
          (error) => {
            if (error instanceof InterruptedError) onInterrupted(error, `remounting ${mount.mountpoint}`);
            else dispatch({ type: 'mount', action: { type: 'failed', message: errorText(error) } });
          },
        );
      },
    };
    return { actions, plan };
  }, [engine, dispatch, stateRef, mounted, onInterrupted]);

  // Both entries typed and equal (the reducer decided): plan the reset, with the flags chosen so far.
  useEffect(() => {
    if (entered) recovery.plan(stateRef.current.recovery.flags);
  }, [entered, recovery, stateRef]);
  return recovery.actions;
}
