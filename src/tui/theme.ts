/**
 * Colours, or none: NO_COLOR (any non-empty value, see no-color.org) turns every colour off while
 * bold and inverse stay, so the selection is still visible.
 */
export interface Theme {
  readonly accent: string | undefined;
  readonly muted: string | undefined;
  readonly ok: string | undefined;
  readonly bad: string | undefined;
  readonly warn: string | undefined;
  /** Colours the bar cycles through, one per partition. */
  readonly segments: readonly (string | undefined)[];
  readonly free: string | undefined;
}

const COLOURED: Theme = {
  accent: 'cyan',
  muted: 'gray',
  ok: 'green',
  bad: 'red',
  warn: 'yellow',
  segments: ['blue', 'magenta', 'cyan', 'green', 'yellow', 'red'],
  free: 'gray',
};

const PLAIN: Theme = {
  accent: undefined,
  muted: undefined,
  ok: undefined,
  bad: undefined,
  warn: undefined,
  segments: [undefined],
  free: undefined,
};

export function themeFor(env: NodeJS.ProcessEnv): Theme {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '' ? PLAIN : COLOURED;
}
