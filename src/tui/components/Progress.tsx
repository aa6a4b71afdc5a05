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
  const { from, to } = visibleWindow(steps.length, steps.length - 1, Math.max(1, height - 2));
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>{title}</Text>
      {steps.slice(from, to).map((step) => {
        const where = [step.path, step.devno].filter(Boolean).join(' ');
        const info = step.detail ?? step.confirmation ?? '';
        return (
          <Text key={step.name} wrap="truncate">
            <Text color={tone(step.state)}>{MARK[step.state]}</Text>
            {truncate(` ${padEnd(step.name, nameWidth)} ${padEnd(where, 20)} ${info}`, width - 1)}
          </Text>
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
