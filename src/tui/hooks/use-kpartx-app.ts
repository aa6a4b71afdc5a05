/**
 * The container: owns the state and every effect (engine calls, the shell, leaving). Components get
 * the state and these intents, nothing else.
 */
import { useApp } from 'ink';
import { type MutableRefObject, useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { errorText } from '../../engine/errors.js';
import { unmountOrder } from '../../engine/mountpoint.js';
import {
  InterruptedError,
  onIdleSignal,
  operationRunning,
  raiseSignal,
  signalExitCode,
} from '../../engine/signals.js';
import { type LeaveResult, leftoverLines } from '../leaving.js';
import type {
  ExistingMapView,
  Inspection,
  MapOptions,
  MountChoice,
  MountView,
  OpOutcome,
  OverlayView,
  TuiEngine,
} from '../model.js';
import { completePath, completionDir, expandHome } from '../path-completion.js';
import {
  type AppAction,
  type AppState,
  appReducer,
  initialState,
  type OpKind,
  type OverlayExit,
} from '../state/app-reducer.js';
import type { AppActions } from '../state/intents.js';
import {
  chosenType,
  openPrepare,
  type PrepareAction,
  type PrepareStep,
  prepareReady,
} from '../state/mount-prepare.js';
import { offeredMaps } from '../state/mount-reducer.js';
import type { TerminalControl } from '../terminal.js';
import { useRecoveryActions } from './use-recovery.js';

/** Lets React paint between engine events. */
const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

export function useKpartxApp(
  engine: TuiEngine,
  paths: string[],
  terminal: TerminalControl,
  first?: Inspection,
  onLeave?: (result: LeaveResult) => void,
) {
  const { exit } = useApp();
  // The state lives in a ref that each action updates at once, and React is only told to draw it:
  // keys that arrive together (a chunk, a paste) are each judged against the state the one before
  // made, never against the last frame.
  const [initial] = useState(() => initialState(paths, first));
  const stateRef = useRef<AppState>(initial);
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const dispatch = useCallback((action: AppAction) => {
    stateRef.current = appReducer(stateRef.current, action);
    redraw();
  }, []);
  const state = stateRef.current;
  const busy = useRef(false);
  const quitAfterOp = useRef(false);

  // Every source opened in this run: leaving says what is still there of each.
  const opened = useRef(new Set<string>());
  if (state.sourcePath) opened.current.add(state.sourcePath);
  // What the mount session has mounted, in mount order, as the kernel has it now (the state
  // follows a frame later). Recovery works on the first (the root).
  const mountedAll = useRef<MountView[]>([]);
  const mounted = useMemo(() => firstMountRef(mountedAll), []);
  /** The running conversion: aborting it stops qemu-img and removes the part-written copy. */
  const converting = useRef<{ stop: AbortController; done: Promise<unknown> } | null>(null);

  /**
   * Leave the app: unmount what this session mounted, look at what stays of the sources it opened,
   * and hand both to the caller, who prints them on the restored terminal. A failed unmount makes
   * the status non-zero. Runs once; later calls (a second signal, another key) do nothing.
   */
  const leaving = useRef(false);
  const leave = useCallback(
    async (status: number, headline: string[]) => {
      if (leaving.current) return;
      leaving.current = true;
      dispatch({ type: 'leaving', text: 'Leaving…' });
      const lines = [...headline];
      let code = status;
      // A conversion under way is stopped and its part file removed before the app goes.
      const conversion = converting.current;
      if (conversion) {
        conversion.stop.abort();
        await conversion.done.catch(() => undefined);
        lines.push('kpartx-tui: conversion stopped; the part-written copy removed');
      }
      // Newest first, a mount inside another (a guest's /boot) before it.
      for (const current of unmountOrder(mountedAll.current)) {
        try {
          await engine.unmount(current);
          mountedAll.current = mountedAll.current.filter((m) => m !== current);
          lines.push(`kpartx-tui: unmounted ${current.source} from ${current.mountpoint}`);
        } catch (error) {
          // Interrupted, an unmount still runs to its end; failed, the mount stays and says so below.
          if (error instanceof InterruptedError) code ||= error.exitCode;
          else code ||= 1;
          lines.push(`kpartx-tui: ${errorText(error)}`);
        }
      }
      try {
        for (const name of await engine.closeOpened())
          lines.push(`kpartx-tui: closed ${name} (cryptsetup close)`);
      } catch (error) {
        code ||= 1;
        lines.push(`kpartx-tui: ${errorText(error)}`);
      }
      try {
        lines.push(...leftoverLines(await engine.leftovers([...opened.current], stateRef.current.options)));
      } catch (error) {
        lines.push(`kpartx-tui: could not look at what is left: ${errorText(error)}`);
      }
      // An overlay not ended (maps of it remain, or a signal): it stays, and the user is told where.
      const overlay = stateRef.current.overlay;
      if (overlay) lines.push(`kpartx-tui: ${await engine.endOverlay(overlay, 'keep').catch(errorText)}`);
      onLeave?.({ status: code, lines });
      exit();
    },
    [engine, exit, onLeave, dispatch],
  );

  /** An operation was interrupted by a signal (or Ctrl-C): it has been taken back or finished; go. */
  const leaveInterrupted = useCallback(
    (error: InterruptedError, what: string) =>
      void leave(error.exitCode, [`kpartx-tui: ${what}: ${error.message}`]),
    [leave],
  );

  // A signal while no operation runs (one that runs holds it, see signals.ts): leave properly.
  const leaveRef = useRef(leave);
  leaveRef.current = leave;
  useEffect(
    () =>
      onIdleSignal((signal) => {
        void leaveRef.current(signalExitCode(signal), [`kpartx-tui: ${signal} received; leaving`]);
      }),
    [],
  );

  const loadSources = useCallback(() => {
    try {
      dispatch({ type: 'sources-loaded', sources: engine.listSources(paths) });
    } catch (error) {
      dispatch({ type: 'message', message: { text: errorText(error), tone: 'error' } });
    }
  }, [engine, paths, dispatch]);

  // Inspections can overlap (fast option changes): only the latest one may land.
  const inspectSeq = useRef(0);
  const inspect = useCallback(
    async (path: string, options: MapOptions): Promise<Inspection | null> => {
      const seq = ++inspectSeq.current;
      try {
        const inspection = await engine.inspect(path, options);
        if (seq === inspectSeq.current) dispatch({ type: 'inspected', inspection });
        return inspection;
      } catch (error) {
        if (seq === inspectSeq.current) dispatch({ type: 'inspect-failed', message: errorText(error) });
        return null;
      }
    },
    [engine, dispatch],
  );

  // The list is read when it is shown: opened on one path, that is only when going back to it.
  const onSources = state.screen === 'sources';
  useEffect(() => {
    if (onSources) loadSources();
  }, [onSources, loadSources]);

  // Every source or option change recomputes layout and preview; a look given to start with stands.
  const startedWithLook = useRef(state.inspection !== null);
  useEffect(() => {
    if (startedWithLook.current) {
      startedWithLook.current = false;
      return;
    }
    if (state.sourcePath) void inspect(state.sourcePath, state.options);
  }, [state.sourcePath, state.options, inspect]);

  // The first look at a source comes without partition contents (it draws sooner): fetch them now.
  const contentsPending = state.inspection?.layout.contentsPending === true;
  useEffect(() => {
    if (!contentsPending) return;
    const timer = setTimeout(() => {
      const { sourcePath, options } = stateRef.current;
      if (sourcePath) void inspect(sourcePath, options);
    }, 0);
    return () => clearTimeout(timer);
  }, [contentsPending, inspect]);

  // A mount session that has removed every map is confirmed against a fresh look at the source.
  const confirmClean = useCallback(
    (after: Inspection | null) => {
      if (after && after.existing.length === 0 && !after.remains)
        dispatch({ type: 'mount', action: { type: 'clean', what: 'maps removed, nothing mounted' } });
      else dispatch({ type: 'mount', action: { type: 'failed', message: 'some maps are still there' } });
    },
    [dispatch],
  );

  // After a teardown the session's own mounts may be gone with the rest: the session must say so.
  const settleMount = useCallback(
    (after: Inspection | null, fromSession: boolean) => {
      for (const current of stateRef.current.mount.mounts) {
        const stillMounted = after?.remains?.mounts.some((m) => m.mountpoint === current.mountpoint) ?? false;
        if (stillMounted) continue;
        mountedAll.current = mountedAll.current.filter((m) => m.mountpoint !== current.mountpoint);
        dispatch({ type: 'mount', action: { type: 'unmounted', mountpoint: current.mountpoint } });
      }
      if (fromSession) confirmClean(after);
    },
    [confirmClean, dispatch],
  );

  const needRoot = useCallback(
    (what: string): boolean => {
      if (engine.isRoot) return true;
      dispatch({
        type: 'message',
        message: { text: `${what} needs root: run kpartx-tui as root.`, tone: 'warn' },
      });
      return false;
    },
    [engine, dispatch],
  );

  /**
   * Run an add or delete; the outcome is shown only once the source has been looked at again (and
   * `after` has run), so the next screen always reflects the kernel's state.
   */
  const runOp = useCallback(
    async (kind: OpKind, after?: (inspection: Inspection | null) => void): Promise<boolean> => {
      const { sourcePath, options } = stateRef.current;
      if (!sourcePath || busy.current || leaving.current) return false;
      busy.current = true;
      dispatch({ type: 'op-start', kind });
      let outcome: OpOutcome;
      try {
        const run =
          kind === 'add'
            ? engine.add.bind(engine)
            : kind === 'teardown'
              ? engine.tearDown.bind(engine)
              : engine.remove.bind(engine);
        outcome = await run(sourcePath, options, (event) => dispatch({ type: 'op-event', event }));
      } catch (error) {
        if (error instanceof InterruptedError) {
          busy.current = false;
          leaveInterrupted(error, `${kind === 'add' ? 'adding maps of' : 'deleting maps of'} ${sourcePath}`);
          return false;
        }
        outcome = { ok: false, summary: errorText(error) };
      }
      await nextTick();
      const inspection = await inspect(sourcePath, stateRef.current.options);
      after?.(inspection);
      busy.current = false;
      dispatch({ type: 'op-finished', outcome });
      if (quitAfterOp.current) void leave(0, []);
      return outcome.ok;
    },
    [engine, inspect, leave, leaveInterrupted, dispatch],
  );

  // What is mounted where is part of the look at the source: look again after a mount changes.
  const lookAgain = useCallback(() => {
    const { sourcePath, options } = stateRef.current;
    if (sourcePath) void inspect(sourcePath, options);
  }, [inspect]);

  /** Unmount the newest of the session's mounts (a mount inside another first); `all`: every one. */
  const unmountCurrent = useCallback(
    async (all = false): Promise<boolean> => {
      for (;;) {
        const current = unmountOrder(mountedAll.current)[0];
        if (!current) return true;
        const gone = () => {
          mountedAll.current = mountedAll.current.filter((m) => m !== current);
          dispatch({ type: 'mount', action: { type: 'unmounted', mountpoint: current.mountpoint } });
        };
        dispatch({ type: 'mount', action: { type: 'working', what: `unmounting ${current.mountpoint}…` } });
        try {
          await engine.unmount(current);
          gone();
          lookAgain();
        } catch (error) {
          if (error instanceof InterruptedError) {
            gone();
            leaveInterrupted(error, `unmounting ${current.mountpoint}`);
          } else dispatch({ type: 'mount', action: { type: 'failed', message: errorText(error) } });
          return false;
        }
        if (!all) return true;
      }
    },
    [engine, leaveInterrupted, lookAgain, dispatch],
  );

  /** Enter on the conversion screen: check the target, then (space permitting) convert and open the copy. */
  const submitConvert = useCallback(async (): Promise<void> => {
    const current = stateRef.current.convert;
    if (!current) return;
    if (current.phase === 'ask') {
      try {
        const plan = engine.planConvert(current.source, current.target);
        dispatch({ type: 'convert', action: { type: 'checked', target: plan.target, space: plan.space } });
      } catch (error) {
        dispatch({ type: 'convert', action: { type: 'refused', message: errorText(error) } });
      }
      return;
    }
    if (current.phase !== 'checked' || !current.space?.ok) return;
    let plan: ReturnType<TuiEngine['planConvert']>;
    try {
      // Checked again: the target may have appeared, or the space gone, since it was shown.
      plan = engine.planConvert(current.source, current.target);
    } catch (error) {
      dispatch({ type: 'convert', action: { type: 'refused', message: errorText(error) } });
      return;
    }
    const stop = new AbortController();
    dispatch({ type: 'convert', action: { type: 'started' } });
    const done = engine.convert(
      plan,
      (percent) => dispatch({ type: 'convert', action: { type: 'progress', percent } }),
      stop.signal,
    );
    converting.current = { stop, done };
    // Not awaited by the key that started it: Esc and Ctrl-C must reach it while it runs.
    done.then(
      () => {
        converting.current = null;
        if (leaving.current) return;
        dispatch({ type: 'open-source', path: plan.target });
        dispatch({
          type: 'message',
          message: { text: `Converted to ${plan.target}; ${current.source} was only read.`, tone: 'info' },
        });
      },
      (error) => {
        converting.current = null;
        if (!leaving.current)
          dispatch({ type: 'convert', action: { type: 'failed', message: errorText(error) } });
      },
    );
  }, [engine, dispatch]);

  /**
   * With an overlay in use, ask how to end it before going to `exit`; true when that is handled
   * here (asked, or refused because maps of the overlay remain: it cannot be ended under them).
   * Leaving with maps remaining is not held up: the overlay is kept and the way out is printed.
   */
  const askOverlayEnd = useCallback(
    (exit: OverlayExit): boolean => {
      const { overlay, inspection } = stateRef.current;
      if (!overlay) return false;
      if (inspection?.remains || (inspection?.existing.length ?? 0) > 0) {
        if (exit === 'quit') return false;
        dispatch({
          type: 'message',
          message: {
            text: `Maps of the overlay remain: clean them up (x) before ending the overlay ${overlay.path}.`,
            tone: 'warn',
          },
        });
        return true;
      }
      dispatch({ type: 'overlay-ask', exit });
      return true;
    },
    [dispatch],
  );

  /** Make the overlay at the field's path and re-open the app on it. */
  const submitOverlay = useCallback(async (): Promise<void> => {
    const { overlayInput, sourcePath } = stateRef.current;
    if (overlayInput === null || !sourcePath || busy.current) return;
    let plan: OverlayView;
    try {
      plan = engine.planOverlay(sourcePath, expandHome(overlayInput.trim(), engine.home));
    } catch (error) {
      dispatch({ type: 'message', message: { text: errorText(error), tone: 'error' } });
      return;
    }
    busy.current = true;
    try {
      await engine.createOverlay(plan);
    } catch (error) {
      dispatch({ type: 'message', message: { text: errorText(error), tone: 'error' } });
      return;
    } finally {
      busy.current = false;
    }
    dispatch({ type: 'overlay-opened', overlay: plan });
    dispatch({
      type: 'message',
      message: {
        text: `Overlay ${plan.path} created: writes go to it; ${plan.image} is only read.`,
        tone: 'info',
      },
    });
  }, [engine, dispatch]);

  /** Commit, discard or keep the overlay, then go where the user was going. */
  const finishOverlay = useCallback(
    async (end: 'commit' | 'discard' | 'keep'): Promise<void> => {
      const { overlay, overlayEnd: exit } = stateRef.current;
      if (!overlay || !exit || busy.current) return;
      busy.current = true;
      let text: string;
      try {
        text = await engine.endOverlay(overlay, end);
      } catch (error) {
        // Refused or failed: the overlay stays in use, and the message says why.
        dispatch({ type: 'overlay-ask', exit: null });
        dispatch({ type: 'message', message: { text: errorText(error), tone: 'error' } });
        return;
      } finally {
        busy.current = false;
      }
      // Its maps are gone (or it could not have been ended): nothing of it to list when leaving.
      opened.current.delete(overlay.path);
      dispatch({ type: 'overlay-ended' });
      if (exit === 'quit') {
        void leave(0, [`kpartx-tui: ${text}`]);
        return;
      }
      if (exit === 'back') dispatch({ type: 'back' });
      else dispatch({ type: 'open-source', path: overlay.image });
      dispatch({ type: 'message', message: { text, tone: 'info' } });
    },
    [engine, leave, dispatch],
  );

  const recovery = useRecoveryActions(engine, dispatch, stateRef, mounted, leaveInterrupted);

  /**
   * Mount a map as chosen (a LUKS one opened with `passphrase` first); the shell, tree and
   * accounts stay on the session's first mount.
   */
  const mountWith = useCallback(
    (
      map: ExistingMapView,
      chosen: Omit<MountChoice, 'readOnly' | 'exec'>,
      passphrase?: string,
    ): Promise<void> => {
      const { readOnly, exec } = stateRef.current.mount;
      const { path } = map;
      const how = [
        readOnly ? ' read-only' : '',
        exec ? ' with exec' : '',
        chosen.fstype ? ` as ${chosen.fstype}` : '',
      ].join('');
      const what = passphrase === undefined ? `mounting ${path}${how}…` : `opening ${path} (LUKS)${how}…`;
      dispatch({ type: 'mount', action: { type: 'working', what } });
      const choice = { readOnly, exec, ...chosen };
      return (
        passphrase === undefined ? engine.mount(path, choice) : engine.unlock(path, passphrase, choice)
      ).then(
        (result) => {
          // A PV inside LUKS: the volume stays open and its LVs join the rows on offer.
          if (!('mountpoint' in result)) {
            dispatch({ type: 'mount', action: { type: 'opened', what: result.note } });
            lookAgain();
            return;
          }
          const mount = result;
          const first = mountedAll.current.length === 0;
          mountedAll.current = [...mountedAll.current, mount];
          // Read-write was chosen and the mount is read-only: say why, every time.
          const note =
            !readOnly && mount.readOnly
              ? map.readOnly
                ? `read-only although read-write was chosen: the map ${map.name} is read-only (added with read-only on); delete and add it without r to write`
                : 'read-only although read-write was chosen: the kernel or the filesystem allowed only a read-only mount'
              : undefined;
          dispatch({ type: 'mount', action: { type: 'mounted', mount, ...(note ? { note } : {}) } });
          if (first) recovery.recognise(mount);
          lookAgain();
        },
        (error) => {
          if (error instanceof InterruptedError) leaveInterrupted(error, `mounting ${path}`);
          else dispatch({ type: 'mount', action: { type: 'failed', message: errorText(error) } });
        },
      );
    },
    [engine, leaveInterrupted, lookAgain, dispatch, recovery],
  );

  const prepare = useCallback(
    (action: PrepareAction) => dispatch({ type: 'mount', action: { type: 'prepare', action } }),
    [dispatch],
  );
  /** Ask where (and, for unknown content, which type and options) before mounting `map`. */
  const openPrepareFor = useCallback(
    (map: ExistingMapView, step: PrepareStep) => {
      const { inspection } = stateRef.current;
      const prepared = openPrepare(
        {
          map: map.path,
          name: map.name,
          mountpoint: engine.mountTarget(map.path),
          needsType: needsType(map, inspection),
          types: engine.mountableFilesystems(),
        },
        step,
      );
      dispatch({ type: 'mount', action: { type: 'open-prepare', prepare: prepared } });
    },
    [engine, dispatch],
  );

  const actions: AppActions = useMemo(
    () => ({
      highlightSource: (index) => dispatch({ type: 'source-highlight', index }),
      moveSource: (delta) => dispatch({ type: 'source-move', delta }),
      editPath: (text) => dispatch({ type: 'path-input', text }),
      completePath: () => {
        const typed = stateRef.current.pathInput;
        if (typed === null) return;
        const dir = expandHome(completionDir(typed), engine.home);
        return engine.listDirectory(dir).then(
          (entries) => dispatch({ type: 'path-completed', from: typed, ...completePath(typed, entries) }),
          () => {},
        );
      },
      openTypedPath: (text) => dispatch({ type: 'open-source', path: expandHome(text, engine.home) }),
      openSource: (path) => dispatch({ type: 'open-source', path }),
      refresh: () => {
        loadSources();
        const { sourcePath, options } = stateRef.current;
        if (sourcePath) void inspect(sourcePath, options);
      },
      back: () => {
        if (stateRef.current.screen === 'layout' && askOverlayEnd('back')) return;
        dispatch({ type: 'back' });
      },
      setOption: (action) => dispatch({ type: 'options', action }),
      editDelimiter: (text, commit) =>
        dispatch({ type: 'delimiter-edit', text, ...(commit ? { commit } : {}) }),
      movePartition: (delta) => dispatch({ type: 'partition-move', delta }),
      request: (kind) => {
        const what = kind === 'add' ? 'Adding maps' : kind === 'teardown' ? 'Cleaning up' : 'Deleting maps';
        if (!needRoot(what)) return;
        const { sourcePath, options } = stateRef.current;
        if (!sourcePath) return;
        // Look again first: the confirmation must show the kernel's state now (who holds what).
        return inspect(sourcePath, options).then((inspection) => {
          if (!inspection) return;
          // A problem that stops the add (a forced backend this kernel lacks, no table…) is said
          // before any question, not after a yes.
          const blocker = kind === 'add' ? inspection.preview.blocked : undefined;
          if (blocker) {
            dispatch({ type: 'message', message: { text: `Cannot add maps: ${blocker}`, tone: 'error' } });
            return;
          }
          if (kind === 'add' && inspection.preview.maps.length === 0) {
            // A container: what it needs instead (nbd), as the preview says it.
            const text = inspection.layout.container ? inspection.preview.problems[0] : undefined;
            dispatch({ type: 'message', message: { text: text ?? 'Nothing to map.', tone: 'warn' } });
            return;
          }
          if (kind === 'remove' && inspection.existing.length === 0) {
            dispatch({
              type: 'message',
              message: { text: 'No maps of this source to delete.', tone: 'warn' },
            });
            return;
          }
          if (kind === 'teardown' && !inspection.remains) {
            dispatch({
              type: 'message',
              message: { text: 'Nothing of this source is set up: nothing to clean up.', tone: 'warn' },
            });
            return;
          }
          dispatch({ type: 'confirm', kind });
        });
      },
      cancelConfirm: () => dispatch({ type: 'confirm', kind: null }),
      runConfirmed: () => {
        const { confirm: kind, confirmReturn } = stateRef.current;
        if (kind === 'teardown') void runOp(kind, (after) => settleMount(after, confirmReturn === 'mount'));
        else if (kind) void runOp(kind);
      },
      dismissProgress: () => dispatch({ type: 'op-dismiss' }),
      openMount: () => {
        // Nothing to mount from until the source has been read.
        if (stateRef.current.inspection && needRoot('Mounting')) dispatch({ type: 'mount-open' });
      },
      moveMount: (delta) => dispatch({ type: 'mount-move', delta }),
      toggleMountReadOnly: () => dispatch({ type: 'mount', action: { type: 'toggle-read-only' } }),
      toggleMountExec: () => dispatch({ type: 'mount', action: { type: 'toggle-exec' } }),
      mountSelected: () => {
        const { mount: session, mountIndex, inspection } = stateRef.current;
        const map = offeredMaps(inspection)[mountIndex];
        if (!map) return;
        const already = session.mounts.find((m) => m.source === map.path);
        if (already) {
          dispatch({
            type: 'mount',
            action: { type: 'failed', message: `${map.name} is already mounted on ${already.mountpoint}` },
          });
          return;
        }
        // Content the probe does not know is mounted only as a type the user picks.
        if (needsType(map, inspection)) {
          openPrepareFor(map, 'type');
          return;
        }
        // A LUKS map: its passphrase first (masked), then it is opened and what it holds mounted.
        if (map.luks) {
          dispatch({ type: 'mount', action: { type: 'ask-passphrase', path: map.path, name: map.name } });
          return;
        }
        return mountWith(map, {});
      },
      typePassphrase: (text) => dispatch({ type: 'mount', action: { type: 'passphrase-type', text } }),
      erasePassphrase: () => dispatch({ type: 'mount', action: { type: 'passphrase-erase' } }),
      cancelPassphrase: () => dispatch({ type: 'mount', action: { type: 'passphrase-cancel' } }),
      submitPassphrase: () => {
        const { mount: session, inspection } = stateRef.current;
        const asked = session.passphrase;
        const map = offeredMaps(inspection).find((m) => m.path === asked?.path);
        if (!asked || !map) return;
        if (!asked.value) {
          dispatch({
            type: 'mount',
            action: { type: 'failed', message: 'an empty passphrase opens nothing' },
          });
          return;
        }
        return mountWith(map, {}, asked.value);
      },
      chooseMountpoint: () => {
        const { mount: session, mountIndex, inspection } = stateRef.current;
        const map = offeredMaps(inspection)[mountIndex];
        if (map && !session.mounts.some((m) => m.source === map.path)) openPrepareFor(map, 'mountpoint');
      },
      editPrepare: (text) => prepare({ type: 'edit', text }),
      movePrepare: (delta) => prepare({ type: 'move', delta }),
      prepareNext: () => {
        const { mount: session, inspection } = stateRef.current;
        const p = session.prepare;
        if (!p) return;
        if (!prepareReady(p)) {
          prepare({ type: 'next' });
          return;
        }
        const map = offeredMaps(inspection).find((m) => m.path === p.map);
        if (!map) return;
        const fstype = chosenType(p);
        const mountpoint = expandHome(p.mountpoint.trim(), engine.home);
        return mountWith(map, {
          // The default place is made by the session itself, with its checks of the run directory.
          ...(mountpoint !== engine.mountTarget(map.path) ? { mountpoint } : {}),
          ...(fstype ? { fstype } : {}),
          ...(p.options.trim() ? { options: p.options.trim() } : {}),
        });
      },
      prepareBack: () => prepare({ type: 'back' }),
      completeMountpoint: () => {
        const p = stateRef.current.mount.prepare;
        if (p?.step !== 'mountpoint') return;
        const typed = p.mountpoint;
        const dir = expandHome(completionDir(typed), engine.home);
        return engine.listDirectory(dir).then(
          (entries) =>
            prepare({
              type: 'completed',
              from: typed,
              ...completePath(
                typed,
                entries.filter((e) => e.directory),
              ),
            }),
          () => {},
        );
      },
      mountAnother: () => dispatch({ type: 'mount', action: { type: 'mount-another' } }),
      showMounted: () => dispatch({ type: 'mount', action: { type: 'show-mounted' } }),
      openShell: () => {
        const current = stateRef.current.mount.mount;
        if (!current) return;
        terminal.runShell(current.mountpoint);
        let tree: string[] = current.tree;
        try {
          tree = engine.listTree(current.mountpoint);
        } catch {
          // The tree may have become unreadable; keep what was shown.
        }
        dispatch({ type: 'mount', action: { type: 'tree', tree } });
        dispatch({ type: 'message', message: { text: 'Back from the shell.', tone: 'info' } });
      },
      unmount: () => void unmountCurrent(),
      finishSession: () => {
        // Mounts this session did not make (an earlier run's) are shown and confirmed first.
        const { mount, inspection } = stateRef.current;
        const ours = new Set(mount.mounts.map((m) => m.mountpoint));
        const others = inspection?.remains?.mounts.filter((m) => !ours.has(m.mountpoint));
        if (mount.mounts.some((m) => m.earlier) || (others && others.length > 0)) {
          actions.request('teardown');
          return;
        }
        void (async () => {
          if (!(await unmountCurrent(true))) return;
          await runOp('remove', confirmClean);
        })();
      },
      quit: () => {
        if (busy.current || askOverlayEnd('quit')) return;
        void leave(0, []);
      },
      openOverlay: () => {
        const { sourcePath, overlay } = stateRef.current;
        if (!sourcePath || busy.current) return;
        if (overlay) {
          askOverlayEnd('stay');
          return;
        }
        if (!needRoot('Overlay mode')) return;
        // Checked before anything is made: without nbd or qemu-img nothing is created.
        const problem = engine.overlayProblem(sourcePath);
        if (problem) {
          dispatch({
            type: 'message',
            message: { text: `Overlay mode is unavailable: ${problem}`, tone: 'error' },
          });
          return;
        }
        dispatch({ type: 'overlay-input', text: engine.overlayTarget(sourcePath) });
      },
      editOverlay: (text) => dispatch({ type: 'overlay-input', text }),
      submitOverlay: () => submitOverlay(),
      endOverlay: (end) => {
        if (end) return finishOverlay(end);
        dispatch({ type: 'overlay-ask', exit: null });
      },
      openConvert: () => {
        const { sourcePath, inspection } = stateRef.current;
        if (!sourcePath || !inspection?.layout.container?.convertible) return;
        dispatch({ type: 'convert-open', source: sourcePath, target: engine.convertTarget(sourcePath) });
      },
      editConvertTarget: (text) => dispatch({ type: 'convert', action: { type: 'edit', text } }),
      submitConvert: () => submitConvert(),
      cancelConvert: () => {
        const current = stateRef.current.convert;
        if (!current) return;
        if (current.phase === 'running') converting.current?.stop.abort();
        else if (current.phase === 'ask') dispatch({ type: 'convert-close' });
        else dispatch({ type: 'convert', action: { type: 'reask' } });
      },
      repaint: () => terminal.repaint?.(),
      interrupt: () => {
        // Ctrl-C during a conversion stops it (its part file is removed); the app stays.
        if (converting.current) {
          converting.current.stop.abort();
          return;
        }
        // Ctrl-C during an add, a delete, a mount or an unmount is the SIGINT that operation holds:
        // an add stops before its next map and takes back what it made, the others finish; then
        // the app leaves with 130, as the CLI does.
        if (operationRunning()) {
          const kind = stateRef.current.op?.running ? stateRef.current.op.kind : null;
          dispatch({
            type: 'leaving',
            text:
              kind === 'add'
                ? 'Ctrl-C: stopping before the next map and removing the maps made so far…'
                : 'Ctrl-C: leaving once this step has finished…',
          });
          raiseSignal('SIGINT');
          return;
        }
        // Between an operation's kernel work and its last look at the source: leave right after.
        if (busy.current) {
          quitAfterOp.current = true;
          return;
        }
        void leave(0, []);
      },
      recovery,
    }),
    [
      askOverlayEnd,
      confirmClean,
      finishOverlay,
      recovery,
      engine,
      inspect,
      leave,
      loadSources,
      needRoot,
      runOp,
      settleMount,
      submitConvert,
      submitOverlay,
      terminal,
      unmountCurrent,
      dispatch,
      mountWith,
      openPrepareFor,
      prepare,
    ],
  );

  return { state, actions, getState: () => stateRef.current };
}

/**
 * Content the probe did not recognise (contents probed, none found): a filesystem type must be
 * picked. A map mounted already (an earlier run's) is taken over as it is.
 */
function needsType(map: ExistingMapView, inspection: Inspection | null): boolean {
  if (inspection?.layout.contentsPending || map.mountpoints?.length) return false;
  return !map.contents;
}

/** The first of the session's mounts as the one mount recovery works on (set: it was remounted). */
function firstMountRef(all: MutableRefObject<MountView[]>): MutableRefObject<MountView | null> {
  return {
    get current() {
      return all.current[0] ?? null;
    },
    set current(mount: MountView | null) {
      all.current = mount
        ? all.current.map((m) => (m.mountpoint === mount.mountpoint ? mount : m))
        : all.current.slice(1);
    },
  };
}
