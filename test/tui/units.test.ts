import { describe, expect, it } from 'vitest';
import { barSegments, segmentText } from '../../src/tui/bar.js';
import { humanBytes, visibleWindow } from '../../src/tui/format.js';
import type { PartitionRow } from '../../src/tui/model.js';
import { blockDevices, deviceKind, type SysReader } from '../../src/tui/sources.js';
import { appReducer, initialAppState } from '../../src/tui/state/app-reducer.js';
import { progressReducer } from '../../src/tui/state/progress-reducer.js';
import { themeFor } from '../../src/tui/theme.js';

const part = (number: number, start: number, size: number, container = 0): PartitionRow => ({
  number,
  start,
  size,
  container,
  kind: container ? 'logical' : 'primary',
  typeName: 'Linux',
  flags: [],
});

describe('disk bar', () => {
  it('shares the width by size and keeps free space visible', () => {
    const segments = barSegments([part(1, 0, 500), part(2, 500, 250)], 1000, 40);
    expect(segments.map((s) => s.number)).toEqual([1, 2, 0]);
    expect(segments.reduce((sum, s) => sum + s.cells, 0)).toBe(40);
    expect(segments[0]!.cells).toBe(20);
    expect(segments[2]!.cells).toBe(10);
  });

  it('gives a tiny partition at least one cell and ignores logicals (they sit inside their parent)', () => {
    const segments = barSegments([part(1, 0, 1), part(2, 1, 999_999), part(5, 10, 5, 2)], 1_000_000, 20);
    expect(segments.map((s) => [s.number, s.cells])).toEqual([
      [1, 1],
      [2, 19],
    ]);
  });

  it('fits 128 partitions into 80 cells', () => {
    const many = Array.from({ length: 128 }, (_, i) => part(i + 1, 2048 + i * 2048, 2048));
    const segments = barSegments(many, 2048 * 130, 80);
    expect(segments.reduce((sum, s) => sum + s.cells, 0)).toBe(80);
    expect(segments.map((s, i) => segmentText(s, i)).join('')).toHaveLength(80);
  });
});

describe('formatting', () => {
  it('prints sizes the way the table does', () => {
    expect(humanBytes(512)).toBe('512 B');
    expect(humanBytes(10 * 2 ** 20)).toBe('10 MiB');
    expect(humanBytes(1.5 * 2 ** 30)).toBe('1.5 GiB');
    expect(humanBytes(160 * 2 ** 20)).toBe('160 MiB');
    expect(humanBytes(2 * 2 ** 40)).toBe('2 TiB');
  });

  it('scrolls a window so the selection stays visible', () => {
    expect(visibleWindow(100, 0, 10)).toEqual({ from: 0, to: 10 });
    expect(visibleWindow(100, 50, 10)).toEqual({ from: 45, to: 55 });
    expect(visibleWindow(100, 99, 10)).toEqual({ from: 90, to: 100 });
  });
});

describe('NO_COLOR', () => {
  it('turns every colour off when set, and only then', () => {
    const plain = themeFor({ NO_COLOR: '1' });
    expect([plain.accent, plain.ok, plain.bad, plain.warn, plain.free, ...plain.segments]).toEqual(
      Array(6).fill(undefined),
    );
    expect(themeFor({}).accent).toBeDefined();
    expect(themeFor({ NO_COLOR: '' }).accent).toBeDefined();
  });
});

describe('sources', () => {
  const tree: Record<string, string[] | string> = {
    '/sys/block': ['sda', 'loop0', 'loop1', 'dm-0', 'vda', 'nbd0', 'md0', 'ram0'],
    '/sys/block/sda/size': '2097152',
    '/sys/block/sda/dev': '8:0',
    '/sys/block/sda': ['sda1', 'sda2', 'device', 'holders'],
    '/sys/block/sda/sda1/partition': '1',
    '/sys/block/sda/sda2/partition': '2',
    '/sys/block/sda/device/model': 'QEMU HARDDISK',
    '/sys/block/sda/holders': ['dm-0'],
    '/sys/block/dm-0/dm/name': 'sda1',
    '/sys/block/dm-0/size': '1024',
    '/sys/block/dm-0/dev': '254:0',
    '/sys/block/loop0/size': '131072',
    '/sys/block/loop0/dev': '7:0',
    '/sys/block/loop0/loop/backing_file': '/work/disk.img',
    '/sys/block/loop1/size': '0',
    '/sys/block/vda/size': '2048',
    '/sys/block/vda/dev': '254:16',
    '/sys/block/nbd0/size': '2048',
    '/sys/block/nbd0/dev': '43:0',
    '/sys/block/md0/size': '2048',
    '/sys/block/md0/dev': '9:0',
    '/sys/block/ram0/size': '8192',
  };
  const sys: SysReader = {
    list: (dir) => (Array.isArray(tree[dir]) ? (tree[dir] as string[]) : []),
    read: (file) => (typeof tree[file] === 'string' ? (tree[file] as string) : undefined),
  };

  it('lists whole disks with kind, size, model, partitions and what maps them; skips unbound loops and ram', () => {
    const devices = blockDevices(sys);
    expect(devices.map((d) => [d.name, d.kind])).toEqual([
      ['dm-0', 'dm'],
      ['loop0', 'loop'],
      ['md0', 'md'],
      ['nbd0', 'nbd'],
      ['sda', 'disk'],
      ['vda', 'virtio'],
    ]);
    const sda = devices.find((d) => d.name === 'sda')!;
    expect(sda).toMatchObject({
      sizeBytes: 2097152 * 512,
      model: 'QEMU HARDDISK',
      partitioned: true,
      mappedBy: ['sda1'],
    });
    expect(devices.find((d) => d.name === 'loop0')?.model).toBe('/work/disk.img');
  });

  it('tells kinds from names and majors', () => {
    expect(deviceKind('xvda', 7)).toBe('loop');
    expect(deviceKind('vdb', 252)).toBe('virtio');
    expect(deviceKind('nvme0n1', 259)).toBe('disk');
  });
});

describe('reducers', () => {
  it('folds a failure and its rollback into the lines they belong to', () => {
    let steps = progressReducer([], {
      type: 'created',
      name: 'loop0p1',
      path: '/dev/mapper/loop0p1',
      devno: '254:0',
    });
    steps = progressReducer(steps, { type: 'confirmed', name: 'loop0p1', detail: 'ok' });
    steps = progressReducer(steps, { type: 'failed', name: 'loop0p2', message: 'EBUSY' });
    steps = progressReducer(steps, { type: 'rolled-back', name: 'loop0p1' });
    expect(steps.map((s) => [s.name, s.state])).toEqual([
      ['loop0p1', 'rolled-back'],
      ['loop0p2', 'failed'],
    ]);
  });

  it('restores the delimiter on Esc and keeps it on Enter', () => {
    let state = appReducer(initialAppState, { type: 'delimiter-edit', text: '' });
    state = appReducer(state, { type: 'delimiter-edit', text: '-p' });
    expect(state.options.delimiter).toBe('-p');
    expect(appReducer(state, { type: 'delimiter-edit', text: null }).options.delimiter).toBeNull();
    expect(appReducer(state, { type: 'delimiter-edit', text: null, commit: true }).options.delimiter).toBe(
      '-p',
    );
  });
});
