/**
 * Ctrl+C or a TERM in the middle of creating, mounting or removing maps must not leave half of
 * them behind. While a handler is installed a signal cannot cut an operation short at a random
 * point: it is noted and passed to the work as an aborted AbortSignal, which an add checks between
 * maps (it stops there and rolls back what it made); other work finishes. Then `undo` puts things
 * back and the caller exits with 128 + the signal number.
 */
import { constants } from 'node:os';

export const CRITICAL_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type CriticalSignal = (typeof CRITICAL_SIGNALS)[number];

export class InterruptedError extends Error {
  /** The shell convention: 130 for SIGINT, 143 for SIGTERM. */
  readonly exitCode: number;
  constructor(readonly signal: CriticalSignal) {
    super(`interrupted by ${signal}; the operation was undone`);
    this.name = 'InterruptedError';
    this.exitCode = 128 + constants.signals[signal];
  }
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
 * Run `work` with SIGINT/SIGTERM held back; `interrupted` aborts when one arrives. If one arrived,
 * run `undo` with what `work` returned (not when `work` threw: it cleans up its own failures) and
 * throw InterruptedError.
 */
export async function deferSignals<T>(
  work: (interrupted: AbortSignal) => T | Promise<T>,
  undo: (result: T) => void | Promise<void>,
): Promise<T> {
  let received: CriticalSignal | undefined;
  const controller = new AbortController();
  const handlers = CRITICAL_SIGNALS.map((signal) => {
    const handler = () => {
      if (received) return;
      received = signal;
      controller.abort(new InterruptedError(signal));
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  try {
    let result: T;
    try {
      result = await work(controller.signal);
    } finally {
      await drainEventLoop();
    }
    if (received) {
      await undo(result);
      throw new InterruptedError(received);
    }
    return result;
  } catch (error) {
    if (received && !(error instanceof InterruptedError)) throw new InterruptedError(received);
    throw error;
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}
