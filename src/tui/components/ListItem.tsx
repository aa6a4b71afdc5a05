import { Text } from 'ink';
import { createContext, useContext } from 'react';
import { type Theme, themeFor } from '../theme.js';

/** The theme of the list being drawn, for the item components ink-select-input instantiates. */
export const ListTheme = createContext<Theme>(themeFor({}));

/**
 * Row and pointer for ink-select-input in the theme's colours (its own are fixed blue, which
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
