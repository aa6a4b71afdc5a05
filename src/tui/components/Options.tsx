import { Box, Text } from 'ink';
import { DELIMITER_KEYS, type KeyHelp, OPTION_KEYS } from '../keys/key-help.js';
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
    const { keep, undo } = DELIMITER_KEYS;
    const label = `Delimiter (${keep.key} ${keep.label}, ${undo.key} ${undo.label}):`;
    return <TextField label={label} value={delimiterInput} width={width} />;
  }
  const delimiter = options.delimiter === null ? `auto '${autoDelimiter}'` : `'${options.delimiter}'`;
  const k = OPTION_KEYS;
  const items: [KeyHelp, string][] = [
    [k.readOnly, onOff(options.readOnly)],
    [k.delimiter, delimiter],
    [k.forceGpt, onOff(options.forceGpt)],
    [k.sync, onOff(options.sync)],
    [k.backend, options.backend],
  ];
  return (
    <Box width={width}>
      <Text wrap="truncate">
        {items.map(([{ key, label }, value]) => (
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
