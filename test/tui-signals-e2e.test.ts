/**
 * The real app in tmux on loop devices, interrupted during an add of 128 maps (Ctrl-C, SIGINT,
 * SIGTERM, SIGHUP, its terminal closing) and left with maps, a mount, and a mount that will not
 * go: see interrupt-scenarios.ts. Ink only draws live frames when CI is not set, hence CI=false.
 */
import { describe } from 'vitest';
import { built } from './interrupt-helpers.js';
import { appSignalScenarios, hasTmux } from './interrupt-scenarios.js';
import { canUseLoop, loopSkipReason } from './loop-helpers.js';

const skipReason = !canUseLoop
  ? loopSkipReason
  : !hasTmux
    ? 'needs tmux'
    : !built
      ? 'needs `npm run build` first'
      : '';

describe.skipIf(skipReason !== '')(
  `kpartx-tui signalled and left, in tmux (${skipReason || 'root, loop, tmux'})`,
  () => appSignalScenarios(30_000),
);
