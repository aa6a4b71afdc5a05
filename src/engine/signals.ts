/**
 * Ctrl+C, a TERM or a hang-up (a closed terminal, a dropped SSH session) in the middle of creating,
 * mounting or removing maps must not leave half of them behind. One owner for the whole process:
 *
 *   - while an operation runs (`deferSignals`), a signal cannot cut it short at a random point: it
 *     is noted and passed to the work as an aborted AbortSignal, which an add checks between maps
 *     (it stops there and rolls back what it made); other work finishes. Then `undo` puts things
 *     back and the caller exits with 128 + the signal number;
 *   - while none runs, the receiver the app installed (`onIdleSignal`) gets it, so the app can
 *     leave properly; without one (the CLI) the signal keeps its default action.
 *
 * The app's Ctrl-C key and a terminal that went away arrive through `raiseSignal`, the same way.
 */
import { lazyBuiltin } from '../io/builtin.js';

// Asked only when a signal ends a run: loading os at every start costs `kpartx -l` more than the
// question.
const os = lazyBuiltin<typeof import('node:os')>('node:os');

export const CRITICAL_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type CriticalSignal = (typeof CRITICAL_SIGNALS)[number];

/** The shell convention: 129 for SIGHUP, 130 for SIGINT, 143 for SIGTERM. */
export const signalExitCode = (signal: CriticalSignal): number => 128 + os().constants.signals[signal];

export class InterruptedError extends Error {
  readonly exitCode: number;
  /** `outcome` says truthfully what the interrupted operation did or undid. */
  constructor(
    readonly signal: CriticalSignal,
    readonly outcome = 'the operation was undone',
  ) {
    super(`interrupted by ${signal}; ${outcome}`);
    this.name = 'InterruptedError';
    this.exitCode = signalExitCode(signal);
  }
}

type Receiver = (signal: CriticalSignal) => void;

/** Operations running now: each notes a signal for itself. */
const guards = new Set<Receiver>();
/** Receivers for a signal while no operation runs; the newest one gets it. */
const idleReceivers: Receiver[] = [];
/** The process listeners, present while anyone above wants signals. */
const listeners = new Map<CriticalSignal, () => void>();

function listen(): void {
  if (listeners.size > 0) return;
  for (const signal of CRITICAL_SIGNALS) {
    const listener = () => raiseSignal(signal);
    process.on(signal, listener);
    listeners.set(signal, listener);
  }
}

/** Back to the default actions once nobody holds the signals. */
function stopListeningWhenUnused(): void {
  if (guards.size > 0 || idleReceivers.length > 0) return;
  for (const [signal, listener] of listeners) process.off(signal, listener);
  listeners.clear();
}

/**
 * A critical signal, whether the kernel delivered it or the app stands in for it (Ctrl-C read as a
 * key in raw mode, a terminal that went away): to the running operations, else to the idle receiver.
 */
export function raiseSignal(signal: CriticalSignal): void {
  if (guards.size > 0) {
    for (const guard of [...guards]) guard(signal);
    return;
  }
  idleReceivers.at(-1)?.(signal);
}

/** Whether an operation holds the signals now (a signal would be deferred, not delivered). */
export const operationRunning = (): boolean => guards.size > 0;

/**
 * Receive the critical signals while no operation runs (the app leaves on them). Returns the
 * function that removes the receiver again.
 */
export function onIdleSignal(receiver: Receiver): () => void {
  idleReceivers.push(receiver);
  listen();
  return () => {
    const at = idleReceivers.lastIndexOf(receiver);
    if (at >= 0) idleReceivers.splice(at, 1);
    stopListeningWhenUnused();
  };
}

/**
 * Let queued signal callbacks run: they arrive through the event loop's poll phase. Before the
 * loop has turned once (top-level code), an immediate alone runs too early; a timer and another
 * immediate make sure a poll phase has passed.
 */
async function drainEventLoop(): Promise<void> {
  await new Promise((done) => setImmediate(done));
  await new Promise((done) => setTimeout(done, 0));
  await new Promise((done) => setImmediate(done));
}

/**
 * Run `work` with SIGINT/SIGTERM/SIGHUP held back; `interrupted` aborts when one arrives. If one
 * arrived, run `undo` with what `work` returned (not when `work` threw: it cleans up its own
 * failures) and throw InterruptedError, whose message is what `undo` says happened. The signals are
 * taken synchronously, at the call: no signal can slip in before the work starts.
 */
export async function deferSignals<T>(
  work: (interrupted: AbortSignal) => T | Promise<T>,
  undo: (result: T, signal: CriticalSignal) => string | undefined | Promise<string | undefined>,
): Promise<T> {
  let received: CriticalSignal | undefined;
  const controller = new AbortController();
  const guard: Receiver = (signal) => {
    if (received) return;
    received = signal;
    controller.abort(new InterruptedError(signal));
  };
  guards.add(guard);
  listen();
  try {
    let result: T;
    try {
      result = await work(controller.signal);
    } finally {
      await drainEventLoop();
    }
    if (received) {
      const outcome = await undo(result, received);
      throw new InterruptedError(received, outcome || undefined);
    }
    return result;
  } catch (error) {
    if (received && !(error instanceof InterruptedError)) throw new InterruptedError(received);
    throw error;
  } finally {
    guards.delete(guard);
    stopListeningWhenUnused();
  }
}
