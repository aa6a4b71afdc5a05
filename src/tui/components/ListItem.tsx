import { Text } from 'ink';
import { createContext, useContext } from 'react';
import { type Theme, themeFor } from '../theme.js';

/** The theme of the list being drawn, for its rows and pointer. */
export const ListTheme = createContext<Theme>(themeFor({}));

/**
 * Row and pointer of a list in the theme's colours (ink-select-input's were fixed blue, which
 * NO_COLOR would not turn off); the highlighted row is bold as well, so it shows without colour.
 */
export function ListItem({ isSelected = false, label }: { isSelected?: boolean; label: string }) {
  const theme = useContext(ListTheme);
  return (
    <Text bold={isSelected} color={isSelected ? theme.accent : undefined} wrap="truncate">
      {label}
    </Text>
  );
}

export function ListIndicator({ isSelected = false }: { isSelected?: boolean }) {
  const theme = useContext(ListTheme);
  return <Text color={theme.accent}>{isSelected ? '❯ ' : '  '}</Text>;
}
