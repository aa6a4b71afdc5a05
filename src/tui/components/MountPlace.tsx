/**
 * The parts of the mount session about where and how: what is mounted now (several at once), the
 * mountpoint the highlighted map would get, and the steps before a mount when there is something
 * to choose (the mountpoint field, the kernel's filesystem types, the options field).
 */
import { Box, Text } from 'ink';
import { truncate } from '../format.js';
import type { MountView } from '../model.js';
import { candidateLines } from '../path-completion.js';
import type { MountPrepare } from '../state/mount-prepare.js';
import type { Theme } from '../theme.js';
import PickList from './PickList.js';
import TextField from './TextField.js';

const describe = (m: MountView) =>
  `${m.source} on ${m.mountpoint} (${m.fstype}, ${m.readOnly ? 'read-only' : 'read-write'})`;

/** `Mounted: …` lines of the session's mounts, for the pick screen; at most `rows`, the rest counted. */
export function mountedLines(mounts: readonly MountView[], width: number, rows: number): string[] {
  if (mounts.length === 0 || rows < 1) return [];
  const lines = mounts.map((m, i) => truncate(`${i === 0 ? 'Mounted: ' : '         '}${describe(m)}`, width));
  return lines.length > rows
    ? [...lines.slice(0, rows - 1), `         … ${lines.length - rows + 1} more`]
    : lines;
}

/** `Also mounted: …` under the first mount, on the mounted screen. */
export function alsoMountedLines(mounts: readonly MountView[], width: number, rows: number): string[] {
  const others = mounts.slice(1);
  if (others.length === 0 || rows < 1) return [];
  const lines = others.map((m, i) =>
    truncate(`${i === 0 ? 'Also mounted: ' : '              '}${describe(m)}`, width),
  );
  return lines.length > rows
    ? [...lines.slice(0, rows - 1), `              … ${lines.length - rows + 1} more`]
    : lines;
}

/** The step of the mount being prepared. */
export function MountPrepareView(props: {
  prepare: MountPrepare;
  width: number;
  /** Rows for the list of types. */
  typeRows: number;
  theme: Theme;
}) {
  const { prepare, width, theme } = props;
  const head = `Mount ${prepare.name}${prepare.needsType ? ' (content not recognised)' : ''}`;
  if (prepare.step === 'mountpoint') {
    return (
      <Box flexDirection="column">
        <Text bold>{truncate(head, width)}</Text>
        <TextField label="Mount on:" value={prepare.mountpoint} width={width} />
        {candidateLines(prepare.candidates, width - 4).map((line) => (
          <Text key={line} dimColor>
            {`    ${line}`}
          </Text>
        ))}
      </Box>
    );
  }
  if (prepare.step === 'type') {
    return (
      <Box flexDirection="column">
        <Text bold>{truncate(`${head}: which filesystem? This kernel mounts:`, width)}</Text>
        {prepare.types.length === 0 ? (
          <Text color={theme.warn}>The kernel lists no filesystem it mounts from a block device.</Text>
        ) : (
          <PickList
            labels={prepare.types}
            selected={prepare.typeIndex}
            limit={props.typeRows}
            theme={theme}
          />
        )}
        <Text dimColor>{truncate(`  on ${prepare.mountpoint}`, width)}</Text>
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      <Text bold>
        {truncate(
          `Mount ${prepare.name} as ${prepare.types[prepare.typeIndex] ?? '?'} · options are added to nosuid,nodev,noexec`,
          width,
        )}
      </Text>
      <TextField label="Options:" value={prepare.options} width={width} />
      <Text dimColor>{truncate(`  on ${prepare.mountpoint}`, width)}</Text>
    </Box>
  );
}

/** The `target` prop of MountSession: where the highlighted map would be mounted. */
export function mountTargetProp(
  engine: { mountTarget(mapPath: string): string },
  map: { path: string; mountpoints?: string[] } | undefined,
): { target?: string } {
  return map && !map.mountpoints?.length ? { target: engine.mountTarget(map.path) } : {};
}
