/**
 * When backend work runs. Independent kernel operations that each wait in the kernel (removing a
 * device-mapper map waits for an RCU grace period) finish much sooner side by side; results still
 * come out in the order the operations were given, so output reads the same as when they run one
 * after the other. Quick synchronous steps give the event loop a turn in between, so a screen can
 * draw each map as it appears and a signal is noticed.
 */

export const nextTurn = (): Promise<void> => new Promise((done) => setImmediate(done));

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Run `tasks` with at most `limit` in flight and hand each result to `each` in the tasks' order,
 * as soon as it and all before it are done. A task that throws stops the run with its error once
 * the tasks already in flight have settled.
 */
export async function runOrdered<T>(
  tasks: readonly (() => Promise<T>)[],
  limit: number,
  each: (result: T) => void,
): Promise<void> {
  const started: Promise<Settled<T>>[] = [];
  const start = (index: number) => {
    const task = tasks[index];
    if (!task) return;
    started[index] = task().then(
      (value) => ({ ok: true, value }),
      (error: unknown) => ({ ok: false, error }),
    );
  };
  const width = Math.max(1, limit);
  for (let index = 0; index < width; index++) start(index);
  for (let index = 0; index < tasks.length; index++) {
    const settled = await started[index]!;
    if (!settled.ok) {
      await Promise.all(started.slice(index + 1));
      throw settled.error;
    }
    start(index + width);
    each(settled.value);
  }
}
