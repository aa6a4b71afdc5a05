import { Box, Text } from 'ink';
import { padEnd, truncate } from '../format.js';
import type { ExistingMapView, Inspection } from '../model.js';
import type { Theme } from '../theme.js';
import Preview from './Preview.js';

export interface ConfirmProps {
  kind: 'add' | 'remove';
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

/** The last look before the kernel is changed. */
export default function Confirm({ kind, inspection, width, height, theme }: ConfirmProps) {
  const { preview, existing } = inspection;
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
