import { Box, Text } from 'ink';
import { padEnd, truncate, visibleWindow } from '../format.js';
import type { OpOutcome, ProgressStep, StepState } from '../model.js';
import type { Theme } from '../theme.js';

export interface ProgressProps {
  title: string;
  steps: ProgressStep[];
  running: boolean;
  outcome: OpOutcome | null;
  width: number;
  height: number;
  theme: Theme;
}

const MARK: Record<StepState, string> = {
  running: '…',
  done: '✓',
  failed: '✗',
  'rolled-back': '↶',
  busy: '!',
  skipped: '-',
};

/** One line per map as the engine reports it, confirmed or explained in place. */
export default function Progress({ title, steps, running, outcome, width, height, theme }: ProgressProps) {
  const tone = (state: StepState) =>
    state === 'done'
      ? theme.ok
      : state === 'running'
        ? theme.accent
        : state === 'busy'
          ? theme.warn
          : theme.bad;
  const nameWidth = Math.min(20, Math.max(8, ...steps.map((s) => s.name.length)));
  // Wide terminals get one line per map; narrow ones put the read-back on a second line.
  const twoLines = width < 120;
  const perStep = twoLines ? 2 : 1;
  const { from, to } = visibleWindow(
    steps.length,
    steps.length - 1,
    Math.max(1, Math.floor((height - 2) / perStep)),
  );
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>{title}</Text>
      {steps.slice(from, to).map((step) => {
        const where = [step.path, step.devno].filter(Boolean).join(' ');
        const info = step.detail ?? step.confirmation ?? '';
        const head = ` ${padEnd(step.name, nameWidth)} ${where}`;
        return (
          <Box key={step.name} flexDirection="column">
            <Text wrap="truncate">
              <Text color={tone(step.state)}>{MARK[step.state]}</Text>
              {twoLines
                ? truncate(head, width - 1)
                : truncate(`${padEnd(head, nameWidth + 32)} ${info}`, width - 1)}
            </Text>
            {twoLines && info ? (
              <Text wrap="truncate" color={step.state === 'done' ? undefined : tone(step.state)}>
                {truncate(`    ${info}`, width)}
              </Text>
            ) : null}
          </Box>
        );
      })}
      {running ? (
        <Text color={theme.accent}>working…</Text>
      ) : outcome ? (
        <Text bold color={outcome.ok ? theme.ok : theme.bad} wrap="truncate">
          {truncate(outcome.summary, width)}
        </Text>
      ) : null}
    </Box>
  );
}
