import SelectInput from 'ink-select-input';
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
 * A list whose highlighted row is app state: every key of a chunk moves it, because the screen's
 * key map owns the index (ink-select-input's own handler reads a stale index for the second key of
 * a chunk). ink-select-input draws the rows, unfocused so it takes no keys; it is keyed by the
 * window and the highlight so that its internal index always starts from the app's.
 */
export default function PickList({ labels, selected, limit, theme }: PickListProps) {
  const rows = Math.max(1, limit);
  const start = windowStart(labels.length, selected, rows);
  const items = labels.slice(start, start + rows).map((label, i) => ({ label, value: start + i }));
  return (
    <ListTheme.Provider value={theme}>
      <SelectInput
        key={`${start}:${selected}`}
        items={items}
        initialIndex={selected - start}
        isFocused={false}
        indicatorComponent={ListIndicator}
        itemComponent={ListItem}
      />
    </ListTheme.Provider>
  );
}
