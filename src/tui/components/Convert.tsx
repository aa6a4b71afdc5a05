import { Box, Text } from 'ink';
import { truncate } from '../format.js';
import type { ConvertState } from '../state/convert-reducer.js';
import type { Theme } from '../theme.js';
import TextField from './TextField.js';

/** `[██████░░░░]  42%` in `width` cells. */
export function progressBar(percent: number, width: number): string {
  const cells = Math.max(4, width - 8);
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * cells);
  return `[${'█'.repeat(filled)}${'░'.repeat(cells - filled)}] ${String(Math.floor(percent)).padStart(3)}%`;
}

/** A container's raw copy: where it goes, whether it fits, the copy under way, or why it stopped. */
export default function Convert({
  state,
  width,
  theme,
}: {
  state: ConvertState;
  width: number;
  theme: Theme;
}) {
  return (
    <Box flexDirection="column" width={width}>
      <Text bold wrap="truncate">
        {truncate('Convert to raw with qemu-img (this kernel has no nbd to attach the image)', width)}
      </Text>
      <Text wrap="truncate">{truncate(`  from ${state.source} (only read, never written)`, width)}</Text>
      {state.phase === 'ask' ? (
        <TextField label="Raw copy:" value={state.target} width={width} />
      ) : (
        <Text wrap="truncate">{truncate(`  to   ${state.target}`, width)}</Text>
      )}
      {state.space ? (
        <Text color={state.space.ok ? theme.ok : theme.bad} wrap="wrap">
          {`${state.space.ok ? '✓' : '✗'} ${state.space.text}`}
        </Text>
      ) : null}
      {state.phase === 'running' ? (
        <Text color={theme.accent}>{progressBar(state.percent, width)}</Text>
      ) : null}
      {state.phase === 'checked' && state.space?.ok ? (
        <Text>Enter converts; the layout of the copy opens when it is done.</Text>
      ) : null}
      {state.error ? (
        <Text color={theme.bad} wrap="wrap">
          {state.error}
        </Text>
      ) : null}
    </Box>
  );
}
