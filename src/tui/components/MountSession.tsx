import { Box, Text } from 'ink';
import { humanSectors, padEnd, truncate } from '../format.js';
import type { ExistingMapView } from '../model.js';
import type { MountState } from '../state/mount-reducer.js';
import type { Theme } from '../theme.js';
import { alsoMountedLines, MountPrepareView, mountedLines } from './MountPlace.js';
import PickList from './PickList.js';

export interface MountSessionProps {
  maps: ExistingMapView[];
  /** The maps offered for mounting (offeredMaps), in order. */
  offered: ExistingMapView[];
  /** The highlighted one of `offered`. */
  index: number;
  state: MountState;
  sourceName: string;
  width: number;
  height: number;
  theme: Theme;
  /** What system the mount holds (Recovery's systemLines), under the mount line. */
  system?: string[];
  /** Where the highlighted map is mounted unless `o` chooses another place. */
  target?: string;
}

/** What the session did last; the newest line wraps, so an error is read in full. */
function SessionLog({ log, width }: { log: string[]; width: number }) {
  if (log.length === 0) return null;
  const lines = log.map((line, i) => (i === log.length - 1 ? `  ${line}` : truncate(`  ${line}`, width)));
  return (
    <Text dimColor wrap="wrap">
      {lines.join('\n')}
    </Text>
  );
}

/** `text` cut into lines of at most `width` at spaces, later lines indented by `indent`. */
function wrapWords(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const candidate = line ? `${line} ${word}` : lines.length ? `${indent}${word}` : word;
    if (candidate.length <= width || !line) line = candidate;
    else {
      lines.push(line);
      line = `${indent}${word}`;
    }
  }
  if (line) lines.push(line);
  return lines.map((l) => truncate(l, width));
}

/**
 * Mapped partitions the session does not mount, each with what it holds and what to do instead,
 * wrapped so the command is read in full; at most `rows` lines, the rest counted.
 */
export function notOfferedLines(maps: ExistingMapView[], width: number, rows: number): string[] {
  if (maps.length === 0 || rows < 2) return [];
  const lines = ['Not mounted here:'];
  for (const [i, m] of maps.entries()) {
    const entry = wrapWords(
      `  ${[m.name, m.contents, '—', m.notMountableWhy].filter(Boolean).join(' ')}`,
      width,
      '    ',
    );
    const room = rows - lines.length - (i < maps.length - 1 ? 1 : 0);
    if (entry.length > room) {
      lines.push(`  … ${maps.length - i} more`);
      break;
    }
    lines.push(...entry);
  }
  return lines.slice(0, rows);
}

/** Pick a mapped partition, mount it, look inside, and end with nothing left behind. */
export default function MountSession(props: MountSessionProps) {
  const { maps, state, sourceName, width, height, theme } = props;
  const log = state.log.slice(-3);
  if (state.phase === 'clean') {
    return (
      <Box flexDirection="column" width={width}>
        <Text bold color={theme.ok}>
          {truncate(`✓ Clean: ${sourceName} has no maps left and nothing of it is mounted.`, width)}
        </Text>
        <SessionLog log={log} width={width} />
      </Box>
    );
  }
  if (state.mount && state.phase !== 'pick') {
    const { mount } = state;
    const system = props.system ?? [];
    const also = alsoMountedLines(state.mounts, width, 3);
    const warning = mount.warning ? `warning: ${mount.warning}` : '';
    const warningRows = warning ? Math.ceil(warning.length / Math.max(1, width)) : 0;
    const treeRows = Math.max(1, height - 4 - log.length - system.length - also.length - warningRows);
    return (
      <Box flexDirection="column" width={width}>
        <Text bold color={theme.ok} wrap="truncate">
          {truncate(
            `Mounted ${mount.source} (${mount.fstype}, ${mount.readOnly ? 'read-only' : 'read-write'}${mount.exec ? ', exec' : ', noexec'})`,
            width,
          )}
        </Text>
        <Text wrap="truncate">{truncate(`  on ${mount.mountpoint}`, width)}</Text>
        {warning ? (
          <Text color={theme.warn} wrap="wrap">
            {warning}
          </Text>
        ) : null}
        {also.length > 0 ? <Text wrap="truncate">{also.join('\n')}</Text> : null}
        {system.length > 0 ? (
          <Text bold color={theme.accent} wrap="truncate">
            {system.join('\n')}
          </Text>
        ) : null}
        <Text bold>Top of the tree:</Text>
        {mount.tree.length === 0 ? <Text dimColor> (empty)</Text> : null}
        {mount.tree.slice(0, treeRows).map((entry) => (
          <Text key={entry} wrap="truncate">
            {truncate(`  ${entry}`, width)}
          </Text>
        ))}
        {mount.tree.length > treeRows ? (
          <Text dimColor>{`  … ${mount.tree.length - treeRows} more`}</Text>
        ) : null}
        <SessionLog log={log} width={width} />
      </Box>
    );
  }
  // Known content that is not a filesystem (LUKS, LVM, swap…) is explained, not offered; maps whose
  // content is unknown stay on offer and the mount finds out.
  const { offered } = props;
  // The rest is said, not offered (an extended partition's map holds only its table).
  const explained = maps
    .filter((m) => !offered.includes(m))
    .map((m) => ({
      ...m,
      notMountableWhy: m.notMountableWhy ?? 'extended partition: its logical partitions are mounted instead',
    }));
  const mounted = mountedLines(state.mounts, width, 3);
  const targetLine =
    props.target && !state.prepare ? truncate(`Mount on: ${props.target} (o changes)`, width) : '';
  const extra = mounted.length + (targetLine ? 1 : 0);
  const notOffered = notOfferedLines(explained, width, Math.max(0, height - 4 - log.length - extra));
  // The path is cut only when the row has no room for it in full.
  const nameWidth = Math.max(8, ...offered.map((m) => m.name.length));
  const pathWidth = Math.max(18, ...offered.map((m) => m.path.length));
  const labels = offered.map((m) =>
    truncate(
      `${padEnd(m.name, nameWidth)} ${padEnd(humanSectors(m.size), 8)} ${padEnd(m.contents ?? '(unknown)', 20)} ${padEnd(m.path, pathWidth)} ${m.devno}${
        m.mountpoints?.length ? ` mounted on ${m.mountpoints.join(', ')}` : ''
      }`,
      width - 2,
    ),
  );
  return (
    <Box flexDirection="column" width={width}>
      <Text>
        Mount read-only: <Text bold>{state.readOnly ? 'yes' : 'no'}</Text>
        <Text dimColor> (r toggles)</Text>
        {'  '}Programs may run: <Text bold>{state.exec ? 'yes' : 'no'}</Text>
        <Text dimColor> (e toggles)</Text>
      </Text>
      {state.passphrase ? (
        <Text wrap="truncate">
          {truncate(
            `Passphrase for ${state.passphrase.name} (LUKS, opened ${state.readOnly ? 'read-only' : 'read-write'}): ${'•'.repeat([...state.passphrase.value].length)}`,
            width,
          )}
        </Text>
      ) : null}
      {mounted.length > 0 ? <Text wrap="truncate">{mounted.join('\n')}</Text> : null}
      {!state.readOnly && offered[props.index]?.readOnly ? (
        <Text color={theme.warn} wrap="truncate">
          {truncate(`${offered[props.index]?.name} is a read-only map: it will be mounted read-only.`, width)}
        </Text>
      ) : null}
      {maps.length === 0 ? (
        <Text color={theme.warn}>No mapped partitions: add maps first (a on the layout screen).</Text>
      ) : offered.length === 0 ? (
        <Text color={theme.warn}>No mapped partition holds a filesystem to mount as it is.</Text>
      ) : state.prepare ? (
        <MountPrepareView
          prepare={state.prepare}
          width={width}
          typeRows={Math.max(1, height - 5 - log.length - mounted.length)}
          theme={theme}
        />
      ) : (
        <PickList
          labels={labels}
          selected={Math.min(props.index, labels.length - 1)}
          limit={height - 2 - log.length - notOffered.length - extra}
          theme={theme}
        />
      )}
      {targetLine ? <Text dimColor>{targetLine}</Text> : null}
      {notOffered.length ? (
        <Text dimColor wrap="truncate">
          {notOffered.join('\n')}
        </Text>
      ) : null}
      <SessionLog log={log} width={width} />
    </Box>
  );
}
