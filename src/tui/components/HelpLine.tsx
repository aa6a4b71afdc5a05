import { Box, Text } from 'ink';
import type { KeyHelp } from '../keys/key-help.js';
import type { Theme } from '../theme.js';

/** The keys of the current screen, on one line, cut to the terminal width. */
export default function HelpLine({ keys, width, theme }: { keys: KeyHelp[]; width: number; theme: Theme }) {
  const parts: KeyHelp[] = [];
  let used = 0;
  for (const key of keys) {
    const length = key.key.length + key.label.length + 3;
    if (used + length > width) break;
    parts.push(key);
    used += length;
  }
  return (
    <Box width={width}>
      {parts.map((k) => (
        <Text key={k.key} dimColor={k.disabled}>
          <Text bold={!k.disabled} color={k.disabled ? undefined : theme.accent}>
            {k.key}
          </Text>
          {` ${k.label}   `}
        </Text>
      ))}
    </Box>
  );
}
