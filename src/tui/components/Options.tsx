import { Box, Text } from 'ink';
import type { MapOptions } from '../model.js';
import type { Theme } from '../theme.js';
import TextField from './TextField.js';

export interface OptionsProps {
  options: MapOptions;
  /** Delimiter the default rule picks for this source (shown for `auto`). */
  autoDelimiter: string;
  delimiterInput: string | null;
  width: number;
  theme: Theme;
}

const onOff = (value: boolean) => (value ? 'on' : 'off');

/** The map options, each with the key that changes it. */
export default function Options({ options, autoDelimiter, delimiterInput, width, theme }: OptionsProps) {
  if (delimiterInput !== null) {
    return <TextField label="Delimiter (Enter keep, Esc undo):" value={delimiterInput} width={width} />;
  }
  const delimiter = options.delimiter === null ? `auto '${autoDelimiter}'` : `'${options.delimiter}'`;
  const items: [string, string, string][] = [
    ['r', 'read-only', onOff(options.readOnly)],
    ['p', 'delim', delimiter],
    ['g', 'force-gpt', onOff(options.forceGpt)],
    ['s', 'sync', onOff(options.sync)],
    ['b', 'backend', options.backend],
  ];
  return (
    <Box width={width}>
      <Text wrap="truncate">
        {items.map(([key, label, value]) => (
          <Text key={key}>
            <Text color={theme.accent}>{key}</Text>
            {` ${label} `}
            <Text bold>{value}</Text>
            {'  '}
          </Text>
        ))}
      </Text>
    </Box>
  );
}
