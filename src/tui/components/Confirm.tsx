import { Box, Text } from 'ink';
import { padEnd, truncate } from '../format.js';
import type { ExistingMapView, Inspection, RemainsView } from '../model.js';
import type { Theme } from '../theme.js';
import Preview from './Preview.js';

export interface ConfirmProps {
  kind: 'add' | 'remove' | 'teardown';
  inspection: Inspection;
  width: number;
  height: number;
  theme: Theme;
}

function RemoveList({
  maps,
  width,
  height,
  theme,
}: {
  maps: ExistingMapView[];
  width: number;
  height: number;
  theme: Theme;
}) {
  const nameWidth = Math.min(24, Math.max(8, ...maps.map((m) => m.name.length)));
  return (
    <Box flexDirection="column">
      <Text bold>{`Maps to remove: ${maps.length}`}</Text>
      {maps.slice(0, Math.max(0, height - 1)).map((m) => (
        <Text key={m.name} wrap="truncate">
          {truncate(`  ${padEnd(m.name, nameWidth)} ${padEnd(m.path, 18)} ${m.devno}`, width)}
          {m.holders.length > 0 ? (
            <Text color={theme.warn}>
              {truncate(` busy: ${m.holders.join(', ')}`, Math.max(0, width - nameWidth - 30))}
            </Text>
          ) : null}
        </Text>
      ))}
    </Box>
  );
}

/** The steps of a clean-up, in the order they run. */
export function teardownLines(remains: RemainsView, width: number): string[] {
  const lines = ['In this order:'];
  for (const m of remains.mounts) lines.push(`  unmount ${m.mountpoint} (${m.map})`);
  if (remains.maps.length > 0)
    lines.push(
      `  remove ${remains.maps.length} map${remains.maps.length === 1 ? '' : 's'}: ${remains.maps.join(' ')}`,
    );
  if (remains.loop)
    lines.push(
      remains.loop.ours
        ? `  release ${remains.loop.path} (attached by kpartx-tui)`
        : `  keep ${remains.loop.path}: not attached by kpartx-tui (losetup -d releases it)`,
    );
  return lines.map((line) => truncate(line, width));
}

function teardownQuestion(remains: RemainsView): string {
  const steps = [
    remains.mounts.length > 0 ? `unmount ${remains.mounts.length}` : '',
    remains.maps.length > 0 ? `remove ${remains.maps.length} map${remains.maps.length === 1 ? '' : 's'}` : '',
    remains.loop?.ours ? `release ${remains.loop.path}` : '',
  ].filter(Boolean);
  const text = steps.join(', ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}? y/Enter yes · n/Esc no`;
}

/** The last look before the kernel is changed. */
export default function Confirm({ kind, inspection, width, height, theme }: ConfirmProps) {
  const { preview, existing, remains } = inspection;
  if (kind === 'teardown' && remains) {
    return (
      <Box flexDirection="column" width={width}>
        <Text wrap="truncate">
          {teardownLines(remains, width)
            .slice(0, Math.max(1, height - 2))
            .join('\n')}
        </Text>
        <Text> </Text>
        <Text bold color={theme.warn}>
          {truncate(teardownQuestion(remains), width)}
        </Text>
      </Box>
    );
  }
  const count = kind === 'add' ? preview.maps.length : existing.length;
  const question =
    kind === 'add'
      ? `Create ${count} map${count === 1 ? '' : 's'}${preview.maps.some((m) => m.readOnly) ? ' read-only' : ''}? y/Enter yes · n/Esc no`
      : `Remove ${count} map${count === 1 ? '' : 's'}? y/Enter yes · n/Esc no`;
  return (
    <Box flexDirection="column" width={width}>
      {kind === 'add' ? (
        <Preview preview={preview} width={width} height={height - 2} theme={theme} />
      ) : (
        <RemoveList maps={existing} width={width} height={height - 2} theme={theme} />
      )}
      <Text> </Text>
      <Text bold color={theme.warn}>
        {truncate(question, width)}
      </Text>
    </Box>
  );
}
