/**
 * Runs one loop-backend add in its own process, for the concurrency and interruption tests.
 * argv[2] is a JSON MapRequest; argv[3] how long to pause after each attach (ms). Every event is
 * printed as a JSON line; an interrupted run exits with 128 + the signal number.
 */

import type { MapRequest } from '../src/engine/backend.js';
import { createLoopBackend } from '../src/engine/backends/loop.js';
import { madeSince, mappedNumbers, rollbackOutcome, takeBackAdd } from '../src/engine/interruption.js';
import { deferSignals, InterruptedError } from '../src/engine/signals.js';
import { sleepSync } from '../src/kernel/loop.js';
import { createMachine } from '../src/kernel/machine.js';

const request = JSON.parse(process.argv[2]!) as MapRequest;
const pauseMs = Number(process.argv[3] ?? 0);
const backend = createLoopBackend(createMachine(), {
  afterAttach: (map) => {
    process.stdout.write(`${JSON.stringify({ type: 'attached', name: map.name })}\n`);
    sleepSync(pauseMs);
  },
});
const emit = (event: unknown) => process.stdout.write(`${JSON.stringify(event)}\n`);
const before = mappedNumbers(backend, request);
try {
  // What the map-run workflow does around a backend add: signals held, an interrupted add taken back.
  const result = await deferSignals(
    (interrupted) => backend.add({ ...request, interrupted }, emit),
    async () => {
      await takeBackAdd(backend, request, before, emit);
      return rollbackOutcome(madeSince(backend, request, before));
    },
  );
  process.exitCode = result.failures > 0 ? 1 : 0;
} catch (error) {
  if (error instanceof InterruptedError) process.exitCode = error.exitCode;
  else {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  }
}
