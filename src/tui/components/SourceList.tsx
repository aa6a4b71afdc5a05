import { Box, Text } from 'ink';
import { humanBytes, padEnd, padStart } from '../format.js';
import type { SourceEntry } from '../model.js';
import { candidateLines } from '../path-completion.js';
import type { Theme } from '../theme.js';
import PickList from './PickList.js';
import TextField from './TextField.js';

export interface SourceListProps {
  sources: SourceEntry[];
  index: number;
  pathInput: string | null;
  /** Several matches of a Tab in the path field, shown under it. */
  pathCandidates: string[];
  width: number;
  /** Rows available for the list itself. */
  height: number;
  theme: Theme;
}

function describe(source: SourceEntry): string {
  const what = source.what ?? (source.partitioned ? 'partitioned' : '');
  return [what, source.model].filter(Boolean).join(' · ');
}

/**
 * Width of the name column: the longest name, at least 16 and at most 40% of the row, so a long
 * file name is cut only when the description would otherwise lose its room.
 */
export function nameWidth(sources: SourceEntry[], width: number): number {
  const longest = Math.max(0, ...sources.map((s) => [...s.name].length));
  return Math.max(16, Math.min(longest, Math.floor(width * 0.4)));
}

/** One fixed-width row: name, kind, size, what it is, what maps it (or what an earlier run left). */
export function sourceRow(source: SourceEntry, width: number, nameColumn = 16): string {
  const mapped = source.leftovers
    ? `earlier run left: ${source.leftovers}`
    : source.mappedBy.length > 0
      ? `mapped: ${source.mappedBy.join(' ')}`
      : '';
  const fixed = nameColumn + 1 + 6 + 1 + 9 + 2;
  const rest = Math.max(0, width - fixed);
  // What an earlier run left is worth more room than the rest of a short description.
  const whatShare = source.leftovers ? Math.min(describe(source).length, Math.ceil(rest * 0.4)) : rest * 0.6;
  const whatWidth = Math.max(0, Math.min(rest, mapped ? Math.ceil(whatShare) : rest));
  return [
    padEnd(source.name, nameColumn),
    padEnd(source.kind, 6),
    padStart(humanBytes(source.sizeBytes), 9),
    '',
    padEnd(describe(source), whatWidth),
    padEnd(mapped, Math.max(0, rest - whatWidth - 1)),
  ]
    .join(' ')
    .trimEnd();
}

export default function SourceList(props: SourceListProps) {
  const { sources, index, pathInput, pathCandidates, width, height, theme } = props;
  const rowWidth = width - 2;
  const names = nameWidth(sources, rowWidth);
  return (
    <Box flexDirection="column" width={width}>
      <Text bold color={theme.accent}>
        {`  ${padEnd('SOURCE', names)} ${padEnd('KIND', 6)} ${padStart('SIZE', 9)}  WHAT`}
      </Text>
      {sources.length === 0 ? (
        <Text dimColor> No block devices or image files found here. Press / to type a path.</Text>
      ) : (
        <PickList
          labels={sources.map((s) => sourceRow(s, rowWidth, names))}
          selected={Math.min(index, sources.length - 1)}
          limit={height}
          theme={theme}
        />
      )}
      {pathInput !== null ? <TextField label="Path:" value={pathInput} width={width} /> : null}
      {pathInput !== null
        ? candidateLines(pathCandidates, width - 6).map((line) => (
            <Text key={line} color={theme.muted} wrap="truncate">
              {`      ${line}`}
            </Text>
          ))
        : null}
    </Box>
  );
}
