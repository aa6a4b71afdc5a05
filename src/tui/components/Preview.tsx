import { Box, Text } from 'ink';
import { padEnd, truncate, visibleWindow } from '../format.js';
import type { Preview as PreviewModel } from '../model.js';
import type { Theme } from '../theme.js';

export interface PreviewProps {
  preview: PreviewModel;
  width: number;
  /** Rows for the whole panel, title included. */
  height: number;
  selectedNumber?: number;
  theme: Theme;
}

/** Exactly the maps an add would make: names and their tables. */
export default function Preview({ preview, width, height, selectedNumber, theme }: PreviewProps) {
  const nameWidth = Math.min(24, Math.max(8, ...preview.maps.map((m) => m.name.length)));
  const title = `Maps to create (${preview.backend} backend${preview.backendReason ? `: ${preview.backendReason}` : ''})`;
  const lines = Math.max(0, height - 1 - preview.problems.length);
  const selected = Math.max(
    0,
    preview.maps.findIndex((m) => m.number === selectedNumber),
  );
  const { from, to } = visibleWindow(preview.maps.length, selected, lines);
  return (
    <Box flexDirection="column" width={width}>
      <Text bold wrap="truncate">
        {truncate(`${title}: ${preview.maps.length}`, width)}
      </Text>
      {preview.problems.map((problem) => (
        <Text key={problem} color={theme.warn} wrap="truncate">
          {truncate(`! ${problem}`, width)}
        </Text>
      ))}
      {preview.maps.slice(from, to).map((m) => (
        <Text key={m.number} wrap="truncate" bold={m.number === selectedNumber}>
          {truncate(
            `  ${padEnd(m.name, nameWidth)} ${m.table}${m.readOnly ? ' ro' : ''}${m.exists ? ' (exists: reload)' : ''}`,
            width,
          )}
        </Text>
      ))}
    </Box>
  );
}
