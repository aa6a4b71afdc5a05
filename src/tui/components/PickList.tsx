import { Box } from 'ink';
import type { Theme } from '../theme.js';
import { ListIndicator, ListItem, ListTheme } from './ListItem.js';

export interface PickListProps {
  labels: string[];
  /** The highlighted row; the state owns it and the screen's key map moves it. */
  selected: number;
  /** Rows to draw at most: the window follows the highlighted row. */
  limit: number;
  theme: Theme;
}

/** First row of a window of `limit` rows that keeps row `selected` in view, near its middle. */
export function windowStart(count: number, selected: number, limit: number): number {
  return Math.max(0, Math.min(selected - Math.floor(limit / 2), count - limit));
}

/**
 * A list whose highlighted row is app state: no key handling of its own, so every key of a chunk
 * moves it (a list with its own handler and state reads a stale index for the second key).
 */
export default function PickList({ labels, selected, limit, theme }: PickListProps) {
  const rows = Math.max(1, limit);
  const start = windowStart(labels.length, selected, rows);
  return (
    <ListTheme.Provider value={theme}>
      <Box flexDirection="column">
        {labels.slice(start, start + rows).map((label, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: rows are positions in the window
          <Box key={i}>
            <ListIndicator isSelected={start + i === selected} />
            <ListItem isSelected={start + i === selected} label={label} />
          </Box>
        ))}
      </Box>
    </ListTheme.Provider>
  );
}
