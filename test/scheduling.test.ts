import { describe, expect, it } from 'vitest';
import { runOrdered } from '../src/engine/scheduling.js';

const resolveAfter = <T>(ms: number, value: T): Promise<T> =>
  new Promise((done) => setTimeout(() => done(value), ms));

describe('runOrdered', () => {
  it('reports in the given order even when later tasks finish first', async () => {
    const seen: number[] = [];
    const durations = [60, 10, 40, 0, 20];
    await runOrdered(
      durations.map((ms, index) => () => resolveAfter(ms, index)),
      5,
      (index) => seen.push(index),
    );
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps at most `limit` tasks in flight, and overlaps them up to it', async () => {
    let running = 0;
    let peak = 0;
    const task = async () => {
      running++;
      peak = Math.max(peak, running);
      await resolveAfter(20, null);
      running--;
    };
    const started = Date.now();
    await runOrdered(
      Array.from({ length: 12 }, () => task),
      4,
      () => {},
    );
    expect(peak).toBe(4);
    // Three waves of 20 ms, not twelve.
    expect(Date.now() - started).toBeLessThan(200);
  });

  it('stops at a failing task after the ones in flight settle, reporting those before it', async () => {
    const seen: number[] = [];
    let finished = 0;
    const tasks = [0, 1, 2, 3, 4, 5].map((index) => async () => {
      await resolveAfter(10, null);
      finished++;
      if (index === 2) throw new Error('task 2 failed');
      return index;
    });
    await expect(runOrdered(tasks, 3, (index) => seen.push(index))).rejects.toThrow('task 2 failed');
    expect(seen).toEqual([0, 1]);
    // Nothing is left running behind the caller's back.
    const settled = finished;
    await resolveAfter(30, null);
    expect(finished).toBe(settled);
  });

  it('handles no tasks', async () => {
    const seen: unknown[] = [];
    await runOrdered([], 4, (value) => seen.push(value));
    expect(seen).toEqual([]);
  });
});
