import { describe, expect, it } from 'vitest';
import type { ParentDevice } from '../src/engine/backend.js';
import type { PartitionTable, Slot } from '../src/engine/partition.js';
import {
  invalidContainerWarnings,
  mappableSlots,
  PlanError,
  planMaps,
  slotsPastEnd,
} from '../src/engine/plan.js';

const slot = (number: number, start: number, size: number, container = 0): Slot => ({
  number,
  start,
  size,
  container,
  kind: container ? 'logical' : 'primary',
});

const parent = (over: Partial<ParentDevice> = {}): ParentDevice => ({
  path: '/dev/loop0',
  devno: { major: 7, minor: 0 },
  sizeSectors: 131072,
  logicalSectorSize: 512,
  uuid: 'devnode_7:0_Wh5pYvM',
  mapName: 'loop0',
  ...over,
});

// T02 of the reference: primary, extended (2 sectors), three logicals.
const extended: PartitionTable = {
  type: 'dos',
  sectorSize: 512,
  slots: [
    slot(1, 2048, 16384),
    slot(2, 18432, 2),
    slot(3, 0, 0),
    slot(4, 0, 0),
    slot(5, 20480, 16384, 2),
    slot(6, 38912, 16384, 2),
    slot(7, 57344, 73728, 2),
  ],
};

describe('planMaps', () => {
  it('plans outer slots first, then contained ones on the whole disk with absolute starts', () => {
    const maps = planMaps(extended, parent(), { readOnly: false });
    expect(maps.map((m) => [m.name, m.start, m.size, m.contained])).toEqual([
      ['loop0p1', 2048, 16384, false],
      ['loop0p2', 18432, 2, false],
      ['loop0p5', 20480, 16384, true],
      ['loop0p6', 38912, 16384, true],
      ['loop0p7', 57344, 73728, true],
    ]);
    expect(maps[0]!.uuid).toBe('part1-devnode_7:0_Wh5pYvM');
    expect(maps[4]!.uuid).toBe('part7-devnode_7:0_Wh5pYvM');
  });

  it('uses the delimiter, the dm name rule and the read-only flag', () => {
    const maps = planMaps(extended, parent({ mapName: 'mpatha', uuid: 'mpath-3600abc' }), {
      readOnly: true,
    });
    expect(maps[0]).toMatchObject({ name: 'mpatha1', dmName: 'mpatha1', uuid: 'part1-mpath-3600abc' });
    expect(maps.every((m) => m.readOnly)).toBe(true);
    const slashed = planMaps(extended, parent(), { readOnly: false, delimiter: '/' });
    expect(slashed[0]).toMatchObject({ name: 'loop0/1', dmName: 'loop0!1' });
  });

  it('refuses every partition past the end of the device, naming partition and device', () => {
    const table: PartitionTable = {
      type: 'dos',
      sectorSize: 512,
      slots: [slot(1, 2048, 16384), slot(2, 18432, 16384), slot(3, 20000, 10000)],
    };
    const small = parent({ path: '/dev/loop2', mapName: 'loop2', sizeSectors: 24576 });
    expect(() => planMaps(table, small, { readOnly: false })).toThrow(PlanError);
    try {
      planMaps(table, small, { readOnly: false });
    } catch (error) {
      expect((error as PlanError).problems).toEqual([
        'loop2p2: partition 2 (sectors 18432-34815) ends past the end of /dev/loop2 (24576 sectors)',
        'loop2p3: partition 3 (sectors 20000-29999) ends past the end of /dev/loop2 (24576 sectors)',
      ]);
    }
    expect(slotsPastEnd(table, 24576).map((s) => s.number)).toEqual([2, 3]);
    expect(slotsPastEnd(table, 34816).map((s) => s.number)).toEqual([]);
  });

  it('accepts a partition ending exactly at the end', () => {
    const table: PartitionTable = { type: 'gpt', sectorSize: 512, slots: [slot(1, 2048, 129024)] };
    expect(planMaps(table, parent(), { readOnly: false })).toHaveLength(1);
  });

  it('refuses names device-mapper cannot hold', () => {
    const table: PartitionTable = { type: 'gpt', sectorSize: 512, slots: [slot(1, 2048, 2048)] };
    expect(() => planMaps(table, parent(), { readOnly: false, delimiter: 'x'.repeat(130) })).toThrow(
      /longer than device-mapper allows/,
    );
  });

  it('skips empty slots but keeps numbering', () => {
    expect(mappableSlots(extended).map((s) => s.number)).toEqual([1, 2, 5, 6, 7]);
  });

  it('reports contained slots whose container is empty', () => {
    const table: PartitionTable = {
      type: 'dos',
      sectorSize: 512,
      slots: [slot(1, 0, 0), slot(2, 2048, 100), slot(3, 4096, 100, 1)],
    };
    expect(invalidContainerWarnings(table)).toEqual(['Invalid slice 0']);
    expect(invalidContainerWarnings(extended)).toEqual([]);
  });
});
