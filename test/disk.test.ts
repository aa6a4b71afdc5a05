import { describe, expect, it } from 'vitest';
import { memoryDisk } from './support/memory-disk.js';

describe('memoryDisk', () => {
  it('returns short reads at the end and nothing past it', () => {
    const disk = memoryDisk(new Uint8Array([1, 2, 3, 4]));
    expect([...disk.readAt(2, 4)]).toEqual([3, 4]);
    expect(disk.readAt(4, 1).length).toBe(0);
    expect(disk.readAt(9, 1).length).toBe(0);
  });
});
