/**
 * Signals on real device-mapper: the scenarios of test/interrupt-scenarios.ts (the same ones that
 * run on loop devices in `npm test`), with the dm backend the guest's kernel gives. The built
 * kpartx on a 128-partition image is signalled right after its first map (SIGINT, SIGTERM, SIGHUP
 * on -a; SIGTERM on -d); the app in tmux is interrupted during an add by Ctrl-C, SIGTERM and its
 * terminal closing.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import {
  appSignalScenarios,
  cliSignalScenarios,
  hasTmux,
  MID_ADD,
  TERMINAL_CLOSING,
} from '../interrupt-scenarios.js';
import { inGuest, resetGuest, skipReason } from './guest.js';

/** Emulated CPU: everything takes several times longer than on the host. */
const SLOW = 120_000;
/**
 * The app's start (Node, Ink, the first look at 128 partitions) most of all: 20-60 s there, three
 * times that before a start counts as hung (a hang then costs CI three minutes, not five).
 */
const APP_SLOW = 180_000;

describe.skipIf(!inGuest)(
  `kpartx signalled mid-run on device-mapper (${inGuest ? 'guest' : skipReason})`,
  () => {
    beforeAll(() => resetGuest());
    afterAll(() => resetGuest());
    cliSignalScenarios(SLOW);
  },
);

describe.skipIf(!inGuest || !hasTmux)(
  `kpartx-tui signalled and left on device-mapper, in tmux (${!inGuest ? skipReason : hasTmux ? 'tmux' : 'needs tmux'})`,
  () => {
    beforeAll(() => resetGuest());
    afterAll(() => resetGuest());
    // Each app start costs a minute or more on the emulated CPU of a busy host: one way in per
    // signal (Ctrl-C is SIGINT, the closing terminal brings SIGHUP). Leaving with maps or mounts
    // does not depend on the backend and runs on loop devices in `npm test`.
    appSignalScenarios(
      APP_SLOW,
      MID_ADD.filter((c) => c.what === 'Ctrl-C' || c.what === 'SIGTERM' || c === TERMINAL_CLOSING),
      [],
    );
  },
);
