import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDeviceMapper } from '../../src/kernel/dm.js';
import { KernelError } from '../../src/kernel/types.js';
import {
  attachLoop,
  devnoOf,
  dmTables,
  dmUuids,
  inGuest,
  resetGuest,
  sfdiskImage,
  skipReason,
} from './guest.js';

describe.skipIf(!inGuest)(`dm ioctls against the kernel (${skipReason})`, () => {
  let loop = '';
  let parent = '';
  beforeAll(() => {
    resetGuest();
    loop = attachLoop(sfdiskImage('kernel', 32, 'label: dos\n2048,16384\n18432,16384\n'));
    parent = devnoOf(loop);
  });
  afterAll(() => resetGuest());

  it('speaks interface version 4 and knows the linear target', () => {
    const dm = openDeviceMapper()!;
    expect(dm).not.toBeNull();
    expect(dm.version()[0]).toBe(4);
    expect(dm.targetTypes()).toContain('linear');
  });

  it('creates a linear map with name and uuid, reads it back, removes it', async () => {
    const dm = openDeviceMapper()!;
    const table = [{ start: 0, length: 16384, type: 'linear', params: `${parent} 2048` }];
    const devno = await dm.create('ktest1', 'part1-ktest-uuid', table, { readOnly: false });
    expect(devno.major).toBeGreaterThan(0);
    expect(dm.table('ktest1')).toEqual(table);
    expect(dmTables().get('ktest1')).toBe(`0 16384 linear ${parent} 2048`);
    expect(dmUuids().get('ktest1')).toBe('part1-ktest-uuid');
    const info = dm.info('ktest1')!;
    expect(info).toMatchObject({
      name: 'ktest1',
      uuid: 'part1-ktest-uuid',
      devno,
      openCount: 0,
      readOnly: false,
    });
    expect(dm.infoByDevNo(devno)?.name).toBe('ktest1');
    expect(dm.infoByUuid('part1-ktest-uuid')?.name).toBe('ktest1');
    expect(dm.list()).toContainEqual({ name: 'ktest1', devno, uuid: 'part1-ktest-uuid' });
    expect(dm.deps('ktest1')).toEqual([
      { major: Number(parent.split(':')[0]), minor: Number(parent.split(':')[1]) },
    ]);
    expect(dm.status('ktest1')).toEqual([{ start: 0, length: 16384, type: 'linear', params: '' }]);
    await dm.remove('ktest1', { noFlush: false });
    expect(dm.info('ktest1')).toBeUndefined();
    expect(dmTables().has('ktest1')).toBe(false);
  });

  it('reloads read-only, renames, and reports errors with errno, operation and name', async () => {
    const dm = openDeviceMapper()!;
    const table = [{ start: 0, length: 16384, type: 'linear', params: `${parent} 18432` }];
    await dm.create('ktest2', 'part2-ktest-uuid', table, { readOnly: false });
    await dm.reload('ktest2', table, { readOnly: true });
    await dm.resume('ktest2', { noFlush: true });
    expect(dm.info('ktest2')?.readOnly).toBe(true);
    await dm.rename('ktest2', 'ktest2b');
    expect(dm.info('ktest2')).toBeUndefined();
    expect(dm.info('ktest2b')?.uuid).toBe('part2-ktest-uuid');
    let error: unknown;
    try {
      await dm.create('ktest3', 'part2-ktest-uuid', table, { readOnly: false });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KernelError);
    expect(error).toMatchObject({ op: 'DM_DEV_CREATE', device: 'ktest3', code: 'EBUSY' });
    await dm.remove('ktest2b', { noFlush: false });
  });

  it('a table past the end of the device fails at load and leaves nothing behind', async () => {
    const dm = openDeviceMapper()!;
    const table = [{ start: 0, length: 999999, type: 'linear', params: `${parent} 2048` }];
    await expect(dm.create('ktest4', 'part4-x', table, { readOnly: false })).rejects.toThrow(
      /ktest4: DM_TABLE_LOAD failed/,
    );
    expect(dm.info('ktest4')).toBeUndefined();
  });

  it('lists many maps (buffer growth) with their uuids, removes them side by side', async () => {
    const dm = openDeviceMapper()!;
    const names = Array.from(
      { length: 150 },
      (_, i) => `many-map-with-a-rather-long-name-${String(i).padStart(3, '0')}`,
    );
    for (const [i, name] of names.entries()) {
      await dm.create(
        name,
        `part${i + 1}-many-uuid-${'x'.repeat(60)}`,
        [{ start: 0, length: 8, type: 'linear', params: `${parent} ${i * 8}` }],
        { readOnly: false },
      );
    }
    const listed = dm.list().filter((e) => e.name.startsWith('many-map'));
    expect(listed.map((e) => e.name).sort()).toEqual(names);
    expect(listed.every((e) => /^part\d+-many-uuid-x{60}$/.test(e.uuid))).toBe(true);
    // All removals in flight at once, as the backend does: each must land exactly once.
    await Promise.all(names.map((name) => dm.remove(name, { noFlush: false })));
    expect(dm.list().filter((e) => e.name.startsWith('many-map'))).toEqual([]);
    await expect(dm.remove(names[0]!, { noFlush: false })).rejects.toMatchObject({ code: 'ENXIO' });
  });
});
