import { Text } from 'ink';
import { truncate } from '../format.js';
import type { RemainsView } from '../model.js';
import type { Theme } from '../theme.js';

/** One line on the layout when an earlier run left maps, mounts or a loop on the source. */
export default function Leftovers({
  remains,
  width,
  theme,
}: {
  remains: RemainsView | undefined;
  width: number;
  theme: Theme;
}) {
  if (!remains?.earlier) return null;
  return (
    <Text color={theme.warn} wrap="truncate">
      {truncate(`Left from an earlier run (x cleans up): ${remains.earlier}`, width)}
    </Text>
  );
}
