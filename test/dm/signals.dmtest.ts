/**
 * Signals and leaving on real device-mapper: the scenarios of test/interrupt-scenarios.ts (the
 * same ones that run on loop devices in `npm test`), with the dm backend the guest's kernel gives.
 * The built kpartx on a 128-partition image is signalled right after its first map (SIGINT,
 * SIGTERM, SIGHUP on -a; SIGTERM on -d); the app in tmux is interrupted during an add by Ctrl-C,
 * SIGTERM and its terminal closing, and left with a map, a mount, and a mount kept busy.
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
    // Each app start costs tens of seconds on the emulated CPU: one way in per signal (Ctrl-C is
    // SIGINT, the closing terminal brings SIGHUP), and the leave that unmounts on dm. The others
    // run on loop devices in `npm test`; what differs here is only the backend under them.
    appSignalScenarios(
      SLOW,
      MID_ADD.filter((c) => c.what === 'Ctrl-C' || c.what === 'SIGTERM' || c === TERMINAL_CLOSING),
      ['from a busy mount'],
    );
  },
);
