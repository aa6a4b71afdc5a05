/**
 * The screen picker: takes the container's state and lays out the panels for the terminal size.
 * No effects here beyond the input hooks.
 */
import { Box, Text } from 'ink';
import Confirm from './components/Confirm.js';
import Convert from './components/Convert.js';
import HelpLine from './components/HelpLine.js';
import {
  DiskBar,
  LayoutHeader,
  layoutHeaderLines,
  PartitionDetail,
  PartitionNext,
  PartitionTable,
  partitionDetailLines,
  tableLines,
} from './components/Layout.js';
import Leftovers from './components/Leftovers.js';
import { mountTargetProp } from './components/MountPlace.js';
import MountSession from './components/MountSession.js';
import Options from './components/Options.js';
import Preview from './components/Preview.js';
import Progress from './components/Progress.js';
import Recovery, { systemLines } from './components/Recovery.js';
import SourceList from './components/SourceList.js';
import TextField from './components/TextField.js';
import { displayed } from './display.js';
import { truncate } from './format.js';
import { useAppInput } from './hooks/use-app-input.js';
import { useKpartxApp } from './hooks/use-kpartx-app.js';
import { type TerminalSize, useTerminalSize } from './hooks/use-terminal-size.js';
import {
  ACCOUNT_KEYS,
  CONFIRM_KEYS,
  CONVERT_KEYS,
  DELIMITER_KEYS,
  type KeyHelp,
  LAYOUT_KEYS,
  MOUNT_PICK_KEYS,
  MOUNTED_KEYS,
  OVERLAY_END_KEYS,
  OVERLAY_KEYS,
  PASSPHRASE_KEYS,
  PASSWORD_KEYS,
  PATH_KEYS,
  PROGRESS_KEYS,
  RESET_KEYS,
  SOURCE_KEYS,
} from './keys/key-help.js';
import { prepareHelp } from './keys/mount-prepare-keys.js';
import type { LeaveResult } from './leaving.js';
import type { Inspection, TuiEngine } from './model.js';
import { candidateLines } from './path-completion.js';
import type { AppState } from './state/app-reducer.js';
import { offeredMaps } from './state/mount-reducer.js';
import type { TerminalControl } from './terminal.js';
import { type Theme, themeFor } from './theme.js';
import { writeModeText } from './write-mode.js';

export interface AppProps {
  engine: TuiEngine;
  paths: string[];
  /** The one path already looked at (default options): its layout is the first frame. */
  first?: Inspection;
  terminal: TerminalControl;
  /** Told how the app ended (status, and what to print on the restored terminal) just before it exits. */
  onLeave?: (result: LeaveResult) => void;
  /** Fixed size for tests; otherwise the terminal's, following resizes. */
  size?: TerminalSize;
  theme?: Theme;
}

function helpKeys(state: AppState, isRoot: boolean): KeyHelp[] {
  const root = ({ key, label }: KeyHelp): KeyHelp =>
    isRoot ? { key, label } : { key, label: `${label} (root)`, disabled: true };
  switch (state.screen) {
    case 'sources':
      return state.pathInput !== null
        ? [PATH_KEYS.open, PATH_KEYS.complete, PATH_KEYS.cancel]
        : [SOURCE_KEYS.move, SOURCE_KEYS.open, SOURCE_KEYS.typePath, SOURCE_KEYS.refresh, SOURCE_KEYS.quit];
    case 'layout': {
      if (state.overlayEnd !== null) {
        const e = OVERLAY_END_KEYS;
        return [e.commit, e.discard, e.keep, e.cancel];
      }
      if (state.overlayInput !== null) return [OVERLAY_KEYS.create, OVERLAY_KEYS.cancel];
      if (state.delimiterInput !== null) return [DELIMITER_KEYS.keep, DELIMITER_KEYS.undo];
      const k = LAYOUT_KEYS;
      const overlay = state.overlay ? { ...k.overlay, label: 'end overlay' } : root(k.overlay);
      // The line is cut at the width: quit comes before back and the moves (which --help lists).
      return state.inspection?.remains
        ? // Something is set up on the source: the clean-up key takes the place of the moves.
          [root(k.add), root(k.remove), root(k.mount), root(k.clean), k.options, overlay, k.quit, k.back]
        : state.inspection?.layout.container?.convertible
          ? // A container without nbd: the conversion takes the place of the moves.
            [k.convert, root(k.add), root(k.mount), k.options, overlay, k.quit, k.back]
          : [root(k.add), root(k.remove), root(k.mount), k.options, overlay, k.quit, k.back, k.move];
    }
    case 'confirm':
      return [CONFIRM_KEYS.yes, CONFIRM_KEYS.no];
    case 'progress':
      return state.op?.running
        ? [
            {
              ...PROGRESS_KEYS.interrupt,
              label: state.op.kind === 'add' ? 'stop, roll back and quit' : 'quit when done',
            },
          ]
        : [PROGRESS_KEYS.back, PROGRESS_KEYS.quit];
    case 'mount': {
      if (state.mount.phase === 'clean') return [PROGRESS_KEYS.back, PROGRESS_KEYS.quit];
      if (state.mount.mount && state.recovery.view) return recoveryHelp(state);
      if (state.mount.mount && state.mount.phase !== 'pick') {
        const k = MOUNTED_KEYS;
        return [
          ...(state.recovery.system?.kind === 'linux' ? [k.accounts] : []),
          ...(state.mount.mount.readOnly ? [k.readWrite] : []),
          k.shell,
          k.another,
          k.unmount,
          k.finish,
          k.quit,
        ];
      }
      if (state.mount.passphrase) return [PASSPHRASE_KEYS.open, PASSPHRASE_KEYS.cancel];
      if (state.mount.prepare) return prepareHelp(state.mount.prepare);
      const k = MOUNT_PICK_KEYS;
      return [
        k.mount,
        k.place,
        k.readOnly,
        k.exec,
        state.inspection?.remains?.mounts.length ? k.finishMounted : k.finish,
        k.back,
        k.quit,
      ];
    }
    case 'convert': {
      const k = CONVERT_KEYS;
      const phase = state.convert?.phase;
      if (phase === 'running') return [k.stop];
      if (phase === 'ask') return [k.check, k.back];
      return [...(phase === 'checked' && state.convert?.space?.ok ? [k.convert] : []), k.change, k.quit];
    }
  }
}

function recoveryHelp(state: AppState): KeyHelp[] {
  switch (state.recovery.view) {
    case 'accounts':
      return [
        ACCOUNT_KEYS.move,
        ACCOUNT_KEYS.reset,
        ...(state.mount.mount?.readOnly ? [ACCOUNT_KEYS.readWrite] : []),
        ACCOUNT_KEYS.back,
      ];
    case 'password':
      return [
        {
          ...PASSWORD_KEYS.next,
          label: state.recovery.entry === 'first' ? PASSWORD_KEYS.next.label : 'check',
        },
        PASSWORD_KEYS.cancel,
      ];
    case 'confirm':
      return [RESET_KEYS.write, RESET_KEYS.options, RESET_KEYS.back];
    default:
      return [RESET_KEYS.done];
  }
}

function title(state: AppState, isRoot: boolean): string {
  const where = state.sourcePath ? ` · ${state.sourcePath}` : '';
  const screen =
    state.screen === 'confirm'
      ? state.confirm === 'add'
        ? ' · add'
        : state.confirm === 'teardown'
          ? ' · clean up'
          : ' · delete'
      : state.screen === 'progress'
        ? state.op?.kind === 'add'
          ? ' · adding'
          : state.op?.kind === 'teardown'
            ? ' · cleaning up'
            : ' · deleting'
        : state.screen === 'convert'
          ? ' · convert to raw'
          : state.screen === 'mount'
            ? state.recovery.view && state.mount.mount
              ? ' · accounts'
              : ' · mount session'
            : '';
  return `kpartx-tui${where}${screen}${isRoot ? '' : ' · not root: browsing only'}`;
}

export default function App({
  engine,
  paths,
  first,
  terminal,
  onLeave,
  size: fixedSize,
  theme: fixedTheme,
}: AppProps) {
  const size = useTerminalSize(fixedSize);
  const theme = fixedTheme ?? themeFor(process.env);
  const { state: raw, actions, getState } = useKpartxApp(engine, paths, terminal, first, onLeave);
  // Everything below draws from `state`, the displayed copy (see display.ts); `raw` is only for
  // input and for the paths handed back to the engine.
  const state = displayed(raw);
  const width = Math.max(20, size.columns);
  // One row spare: a frame as tall as the terminal makes Ink 6 repaint the whole screen each time.
  const height = Math.max(8, size.rows - 1);
  // Title, write mode, message and help line.
  const body = height - 4;
  // The partition table gets up to 60% of the body; rows it does not need go to the maps preview.
  const maxTableRows = Math.max(3, Math.floor((body - 5) * 0.6));
  // Partitions and the LVM rows under them; a container's line is taken from the table's rows.
  const partitionCount = state.inspection
    ? tableLines(state.inspection.layout).length + (state.inspection.layout.container ? 1 : 0)
    : maxTableRows;
  const tableRows = Math.max(3, Math.min(maxTableRows, partitionCount + 1)); // + the header row
  const previewRows = Math.max(2, body - 5 - tableRows - 1);

  useAppInput(getState, actions, tableRows);

  const inspection = state.inspection;
  const selected = inspection?.layout.partitions[state.partitionIndex];
  const sourceName = state.sourcePath?.split('/').pop() ?? '';

  let content: React.ReactNode = null;
  if (state.screen === 'sources') {
    content = (
      <SourceList
        sources={state.sources}
        index={state.sourceIndex}
        pathInput={state.pathInput}
        pathCandidates={state.pathCandidates}
        width={width}
        height={
          body -
          1 -
          (state.pathInput !== null ? 1 + candidateLines(state.pathCandidates, width - 6).length : 0)
        }
        theme={theme}
      />
    );
  } else if (!inspection) {
    content = <Text color={theme.muted}>{state.message ? '' : 'Reading…'}</Text>;
  } else if (state.screen === 'layout') {
    const { layout } = inspection;
    content = (
      <Box flexDirection="column">
        <LayoutHeader layout={layout} width={width} theme={theme} />
        <DiskBar layout={layout} width={width} theme={theme} />
        {layout.note ? (
          <Text color={theme.warn} wrap="truncate">
            {truncate(layout.note, width)}
          </Text>
        ) : null}
        <Leftovers remains={inspection.remains} width={width} theme={theme} />
        <PartitionTable
          layout={layout}
          selected={state.partitionIndex}
          width={width}
          tableRows={tableRows - (layout.note ? 1 : 0) - (layoutHeaderLines(layout, width).length - 1)}
          theme={theme}
        />
        <PartitionDetail partition={selected} width={width} />
        <PartitionNext partition={selected} width={width} theme={theme} />
        {state.overlayEnd !== null && state.overlay ? (
          <Text color={theme.warn} wrap="truncate">
            {truncate(`End the overlay ${state.overlay.path}: commit, discard or keep it?`, width)}
          </Text>
        ) : state.overlayInput !== null ? (
          <TextField label="Overlay file:" value={state.overlayInput} width={width} />
        ) : (
          <Options
            options={state.options}
            autoDelimiter={inspection.preview.delimiter}
            delimiterInput={state.delimiterInput}
            width={width}
            theme={theme}
          />
        )}
        <Preview
          preview={inspection.preview}
          width={width}
          // The next-step and leftovers lines take their rows from the preview, so the table does not jump.
          height={
            previewRows -
            (selected?.contentHint ? 1 : 0) -
            (inspection.remains?.earlier ? 1 : 0) -
            (partitionDetailLines(selected, width).length - 1)
          }
          theme={theme}
          {...(selected ? { selectedNumber: selected.number } : {})}
        />
      </Box>
    );
  } else if (state.screen === 'confirm' && state.confirm) {
    content = (
      <Confirm kind={state.confirm} inspection={inspection} width={width} height={body} theme={theme} />
    );
  } else if (state.screen === 'progress' && state.op) {
    content = (
      <Progress
        title={
          state.op.kind === 'add'
            ? 'Creating maps'
            : state.op.kind === 'teardown'
              ? 'Unmounting, removing maps, releasing the loop'
              : 'Removing maps'
        }
        steps={state.op.steps}
        running={state.op.running}
        outcome={state.op.outcome}
        width={width}
        height={body}
        theme={theme}
      />
    );
  } else if (state.screen === 'convert' && state.convert) {
    content = <Convert state={state.convert} width={width} theme={theme} />;
  } else if (state.screen === 'mount' && state.mount.mount && state.recovery.view) {
    content = (
      <Recovery state={state.recovery} mount={state.mount.mount} width={width} height={body} theme={theme} />
    );
  } else if (state.screen === 'mount') {
    const recovery = state.recovery;
    const onThisMount = recovery.mountpoint !== null && recovery.mountpoint === state.mount.mount?.mountpoint;
    content = (
      <MountSession
        maps={[...inspection.existing, ...(inspection.volumes ?? [])]}
        offered={offeredMaps(inspection)}
        index={state.mountIndex}
        state={state.mount}
        sourceName={sourceName}
        width={width}
        height={body}
        theme={theme}
        {...(onThisMount ? { system: systemLines(recovery.system, recovery.systemError, width, 4) } : {})}
        {...mountTargetProp(engine, offeredMaps(inspection)[state.mountIndex])}
      />
    );
  }

  const message = state.message;
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold inverse wrap="truncate">
        {truncate(title(state, engine.isRoot), width).padEnd(width)}
      </Text>
      <Text
        color={state.overlay ? theme.accent : state.options.readOnly ? theme.muted : theme.warn}
        wrap="truncate"
      >
        {truncate(writeModeText(state.sourcePath, state.options, state.overlay), width)}
      </Text>
      {/* Clipped to its rows only: every line is already cut to the width (clipping the width too
          costs Ink an ANSI-aware slice of every line of every frame). */}
      <Box flexDirection="column" height={body} overflowY="hidden">
        {content}
      </Box>
      <Text
        wrap="truncate"
        color={message?.tone === 'error' ? theme.bad : message?.tone === 'warn' ? theme.warn : theme.muted}
      >
        {message ? truncate(message.text, width) : ' '}
      </Text>
      <HelpLine keys={helpKeys(state, engine.isRoot)} width={width} theme={theme} />
    </Box>
  );
}
