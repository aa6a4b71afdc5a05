import { describe, expect, it } from 'vitest';
import { listingLines } from '../src/engine/listing.js';
import type { PartitionTable, Slot } from '../src/engine/partition.js';

const slot = (number: number, start: number, size: number, container = 0): Slot => ({
  number,
  start,
  size,
  container,
  kind: container ? 'nested' : 'primary',
});
const table = (slots: Slot[]): PartitionTable => ({ type: 'dos', sectorSize: 512, slots });
const loop0 = { mapName: 'loop0', delimiter: 'p', devicePath: '/dev/loop0' };

describe('listingLines', () => {
  it('prints T02: logicals on /dev/dm-1 relative to the extended partition', () => {
    const t02 = table([
      slot(1, 2048, 16384),
      slot(2, 18432, 2),
      slot(3, 0, 0),
      slot(4, 0, 0),
      slot(5, 20480, 16384, 2),
      slot(6, 38912, 16384, 2),
      slot(7, 57344, 73728, 2),
    ]);
    expect(listingLines(t02, loop0)).toEqual([
      'loop0p1 : 0 16384 /dev/loop0 2048',
      'loop0p2 : 0 2 /dev/loop0 18432',
      'loop0p5 : 0 16384 /dev/dm-1 2048',
      'loop0p6 : 0 16384 /dev/dm-1 20480',
      'loop0p7 : 0 73728 /dev/dm-1 38912',
    ]);
  });

  it('prints T25b: two extended partitions, K is the print order of each container', () => {
    const t25b = table([
      slot(1, 2048, 2),
      slot(2, 42048, 8192),
      slot(3, 50240, 2),
      slot(4, 0, 0),
      slot(5, 4096, 8192, 1),
      slot(6, 0, 0, 1),
      slot(7, 52288, 8192, 3),
      slot(8, 0, 0, 3),
    ]);
    expect(listingLines(t25b, loop0)).toEqual([
      'loop0p1 : 0 2 /dev/loop0 2048',
      'loop0p2 : 0 8192 /dev/loop0 42048',
      'loop0p3 : 0 2 /dev/loop0 50240',
      'loop0p5 : 0 8192 /dev/dm-0 2048',
      'loop0p7 : 0 8192 /dev/dm-2 2048',
    ]);
  });

  it('prints T20a: a BSD c slice printed first contains the others', () => {
    const t20a = table([slot(1, 2048, 16384, 3), slot(2, 18432, 16384, 3), slot(3, 0, 131072)]);
    expect(listingLines(t20a, loop0)).toEqual([
      'loop0p3 : 0 131072 /dev/loop0 0',
      'loop0p1 : 0 16384 /dev/dm-0 2048',
      'loop0p2 : 0 16384 /dev/dm-0 18432',
    ]);
  });

  it('uses the operand as typed and the delimiter as given', () => {
    const t = table([slot(1, 2048, 16384), slot(2, 0, 0), slot(3, 34816, 16384)]);
    expect(
      listingLines(t, { mapName: 'mydisk', delimiter: '_', devicePath: '/tmp/kp/final/mydisk' }),
    ).toEqual([
      'mydisk_1 : 0 16384 /tmp/kp/final/mydisk 2048',
      'mydisk_3 : 0 16384 /tmp/kp/final/mydisk 34816',
    ]);
  });

  it('prints a contained slot whose container was not printed on dm-0, and a nested container in order', () => {
    const t = table([slot(1, 0, 0), slot(2, 100, 1000), slot(3, 200, 500, 1), slot(4, 300, 50, 3)]);
    expect(listingLines(t, loop0)).toEqual([
      'loop0p2 : 0 1000 /dev/loop0 100',
      'loop0p3 : 0 500 /dev/dm-0 200',
      'loop0p4 : 0 50 /dev/dm-1 100',
    ]);
  });

  it('prints an empty list for a table without used slots', () => {
    expect(listingLines(table([slot(1, 0, 0)]), loop0)).toEqual([]);
  });
});
