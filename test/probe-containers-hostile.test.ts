/**
 * Hostile and damaged container headers: absurd table sizes, cluster sizes and offsets, a virtual
 * size of 2^64-1. Opening must end in a clear problem (or a disk whose reads fail with a clear
 * ContainerError) within 100 ms of CPU time and without allocating 100 MB, whatever the bytes.
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Disk } from '../src/io/disk.js';
import { ContainerError, type OpenedContainer, openContainer } from '../src/probe/index.js';
import { haveTool, run } from './probe-helpers.js';
import { memoryDisk } from './support/memory-disk.js';

const MiB = 1024 * 1024;
const TIME_LIMIT_MS = 100;
const MEMORY_LIMIT = 100 * MiB;

/** A qcow2 header (v3, 64 KiB clusters by default) in a file of `fileSize` bytes. */
function qcow2(fields: Partial<Record<string, bigint | number>>, fileSize = 256 * 1024): Uint8Array {
  const bytes = new Uint8Array(fileSize);
  const view = new DataView(bytes.buffer);
  const f = {
    version: 3,
    backingOffset: 0n,
    backingLength: 0,
    clusterBits: 16,
    size: 16n * BigInt(MiB),
    crypt: 0,
    l1Size: 1,
    l1Offset: 0x30000n,
    refcountOffset: 0x10000n,
    refcountClusters: 1,
    snapshots: 0,
    snapshotsOffset: 0n,
    incompatible: 0n,
    headerLength: 104,
    ...fields,
  };
  view.setUint32(0, 0x514649fb);
  view.setUint32(4, Number(f.version));
  view.setBigUint64(8, BigInt(f.backingOffset));
  view.setUint32(16, Number(f.backingLength));
  view.setUint32(20, Number(f.clusterBits));
  view.setBigUint64(24, BigInt(f.size));
  view.setUint32(32, Number(f.crypt));
  view.setUint32(36, Number(f.l1Size));
  view.setBigUint64(40, BigInt(f.l1Offset));
  view.setBigUint64(48, BigInt(f.refcountOffset));
  view.setUint32(56, Number(f.refcountClusters));
  view.setUint32(60, Number(f.snapshots));
  view.setBigUint64(64, BigInt(f.snapshotsOffset));
  view.setBigUint64(72, BigInt(f.incompatible));
  view.setUint32(100, Number(f.headerLength));
  return bytes;
}

/**
 * Open `disk` as a container and read a few ranges of the guest's disk: every failure must be a
 * ContainerError, everything must stay inside the time and memory limits.
 */
/** CPU milliseconds spent by this process since `since` (immune to other jobs on a busy machine). */
const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

function openBounded(disk: Disk, reads: Array<[number, number]> = []): OpenedContainer | null {
  const memoryBefore = process.memoryUsage().arrayBuffers;
  const start = process.cpuUsage();
  const c = openContainer(disk, { name: 'hostile.img' });
  expect(cpuMs(start), 'open time').toBeLessThan(TIME_LIMIT_MS);
  if (c?.problem) expect(c.problem.message).toMatch(/^hostile\.img: /);
  if (c?.disk) {
    for (const [at, length] of reads) {
      const readStart = process.cpuUsage();
      try {
        const bytes = c.disk.readAt(at, length);
        expect(bytes.length).toBe(Math.max(0, Math.min(length, c.disk.size - at)));
      } catch (error) {
        if (!(error instanceof ContainerError)) throw error;
        expect(error.message).toMatch(/^hostile\.img: |^[^:]+: /);
      }
      expect(cpuMs(readStart), `read ${at}+${length}`).toBeLessThan(TIME_LIMIT_MS * 5);
    }
  }
  expect(process.memoryUsage().arrayBuffers - memoryBefore, 'memory').toBeLessThan(MEMORY_LIMIT);
  c?.close();
  return c;
}

describe('hostile qcow2 headers', () => {
  const cases: Array<[string, Partial<Record<string, bigint | number>>, RegExp, number?]> = [
    ['virtual size 2^64-1', { size: 2n ** 64n - 1n }, /virtual size of 18446744073709551615 bytes is beyond/],
    [
      'an L1 table of 2^32-1 entries',
      { l1Size: 0xffffffff },
      /L1 table of 4294967295 entries is larger than/,
    ],
    ['an L1 table too small for the size', { size: 2n ** 50n, l1Size: 1 }, /cannot cover a virtual size/],
    ['cluster bits 0', { clusterBits: 0 }, /invalid cluster size 2\^0/],
    ['cluster bits 63', { clusterBits: 63 }, /invalid cluster size 2\^63/],
    ['cluster bits 2^32-1', { clusterBits: 0xffffffff }, /invalid cluster size/],
    ['an L1 table offset of 2^63', { l1Offset: 2n ** 63n }, /invalid L1 table offset 9223372036854775808/],
    ['an unaligned L1 table offset', { l1Offset: 0x30001n }, /invalid L1 table offset/],
    [
      'an L1 table past the end of the file',
      { l1Offset: 2n ** 40n },
      /L1 table at 1099511627776 lies past the end/,
    ],
    ['a refcount table offset of 2^63', { refcountOffset: 2n ** 63n }, /invalid refcount table/],
    ['a refcount table of 2^32-1 clusters', { refcountClusters: 0xffffffff }, /invalid refcount table/],
    ['2^32-1 snapshots', { snapshots: 0xffffffff }, /snapshots is more than qcow2 allows/],
    [
      'a backing file name of 4 GiB',
      { backingOffset: 0x200n, backingLength: 0xffffffff },
      /longer than qcow2 allows/,
    ],
    [
      'a backing file name past the cluster',
      { backingOffset: 2n ** 62n, backingLength: 8 },
      /invalid backing file name offset/,
    ],
    ['a header length of 2^32-8', { headerLength: 0xfffffff8 }, /invalid header length/],
    ['version 4', { version: 4 }, /qcow2 version 4 is not read here/],
    [
      'unknown incompatible features',
      { incompatible: 1n << 40n },
      /incompatible features this reader does not know \(bit 40\)/,
    ],
  ];
  for (const [what, fields, message] of cases) {
    it(`${what}: a clear error at once`, () => {
      const c = openBounded(memoryDisk(qcow2(fields)));
      expect(c?.format).toBe('qcow2');
      expect(c?.disk).toBeUndefined();
      expect(c?.problem?.message).toMatch(message);
    });
  }

  it('the largest L1 table qemu allows costs nothing until it is read, and then a slice', () => {
    // 4 Mi entries of 64 KiB clusters: a 2 PiB disk, its L1 table filling a 32 MiB file of zeros.
    const fileSize = 0x30000 + 32 * MiB;
    const c = openBounded(memoryDisk(qcow2({ size: 2n ** 51n, l1Size: 4 * MiB }, fileSize)), [
      [0, 4096],
      [2 ** 51 - 4096, 8192],
      [2 ** 50, MiB],
    ]);
    expect(c?.problem).toBeUndefined();
    expect(c?.virtualSize).toBe(2 ** 51);
  });

  it('L2 tables and data clusters pointing anywhere give clear errors on read', () => {
    const bytes = qcow2({ l1Size: 1 });
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0x30000, 0x40000n); // L1[0] -> L2 at 256 KiB: past the end of this file
    let c = openBounded(memoryDisk(bytes), [[0, 512]]);
    expect(() => openContainer(memoryDisk(bytes))!.disk!.readAt(0, 512)).toThrow(
      /L2 table at 262144 lies past the end of the file/,
    );
    view.setBigUint64(0x30000, 0x20000n); // L2 at 128 KiB
    view.setBigUint64(0x20000, 0x00fffffffffffe00n); // cluster 0 at 2^56 - 512: not aligned, far away
    view.setBigUint64(0x20008, 0x7fff_ffff_ffff_0000n); // cluster 1: compressed, 2^13 sectors far away
    c = openBounded(memoryDisk(bytes), [
      [0, 512],
      [65536, 512],
    ]);
    const guest = openContainer(memoryDisk(bytes))!.disk!;
    expect(() => guest.readAt(0, 512)).toThrow(/cluster offset \d+ in an L2 entry is not cluster aligned/);
    expect(() => guest.readAt(65536, 512)).toThrow(
      /compressed cluster for guest offset 65536 lies past the end/,
    );
    expect(c?.problem).toBeUndefined();
  });

  it('any header fields (property)', () => {
    const u64 = fc.oneof(
      fc.constantFrom(0n, 1n, 0x10000n, 0x20000n, 0x30000n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 53n),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    );
    const u32 = fc.oneof(fc.constantFrom(0, 1, 9, 16, 21, 22, 104, 0xffffffff), fc.nat({ max: 0xffffffff }));
    fc.assert(
      fc.property(
        fc.record({
          version: fc.constantFrom(2, 3),
          backingOffset: fc.constantFrom(0n, 0x200n, 0x10000n, 2n ** 63n),
          backingLength: u32,
          clusterBits: fc.oneof(fc.integer({ min: 9, max: 21 }), u32),
          size: u64,
          crypt: fc.constantFrom(0, 1, 2, 7),
          l1Size: u32,
          l1Offset: u64,
          refcountOffset: u64,
          refcountClusters: u32,
          snapshots: u32,
          incompatible: fc.constantFrom(0n, 1n, 2n, 4n, 8n, 16n, 1n << 63n),
          headerLength: fc.constantFrom(104, 112, 72, 4096),
        }),
        fc.array(fc.tuple(fc.nat({ max: 0x3ffff }), fc.nat({ max: 255 })), { maxLength: 16 }),
        (fields, pokes) => {
          const bytes = qcow2(fields);
          for (const [at, value] of pokes) bytes[at] = value;
          openBounded(memoryDisk(bytes), [
            [0, 4096],
            [65536 - 100, 200],
            [10 * MiB, 512],
          ]);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe.skipIf(!haveTool('qemu-img'))('damaged images made by qemu-img (property)', () => {
  const work = mkdtempSync(join(tmpdir(), 'probe-hostile-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const images: Array<{ name: string; bytes: Uint8Array }> = [];
  beforeAll(() => {
    const raw = join(work, 'disk.raw');
    writeFileSync(raw, '');
    truncateSync(raw, 8 * MiB);
    // Data at a few places so every format has tables and allocated blocks to damage.
    for (const at of [0, 1, 3, 7]) {
      const chunk = new Uint8Array(300 * 1024).map((_, i) => (i * 13 + at) & 0xff);
      writeFileSync(join(work, 'chunk'), chunk);
      run('dd', [
        `if=${join(work, 'chunk')}`,
        `of=${raw}`,
        'bs=1K',
        `seek=${at * 1024}`,
        'conv=notrunc',
        'status=none',
      ]);
    }
    for (const [name, args] of [
      ['a.qcow2', ['-O', 'qcow2']],
      ['c.qcow2', ['-c', '-O', 'qcow2', '-o', 'cluster_size=4096']],
      ['s.vmdk', ['-O', 'vmdk']],
      ['t.vmdk', ['-O', 'vmdk', '-o', 'subformat=streamOptimized']],
      ['d.vhd', ['-O', 'vpc']],
      ['x.vhdx', ['-O', 'vhdx', '-o', 'block_size=1M']],
      ['i.vdi', ['-O', 'vdi']],
    ] as const) {
      run('qemu-img', ['convert', '-f', 'raw', ...args, raw, join(work, name)]);
      images.push({ name, bytes: new Uint8Array(readFileSync(join(work, name))) });
    }
  }, 60_000);

  it('every failure is a clear ContainerError, inside the limits', () => {
    expect(images.length).toBe(7);
    fc.assert(
      fc.property(
        fc.nat({ max: images.length - 1 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat({ max: 255 })), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.boolean(),
        (which, pokes, nearMetadata) => {
          const bytes = Uint8Array.from(images[which]!.bytes);
          for (const [where, value] of pokes) {
            // Half the runs aim at the first 64 KiB and the last 2 KiB, where the headers, footers
            // and most tables are; the others anywhere.
            const span = nearMetadata ? Math.min(bytes.length, 64 * 1024) : bytes.length;
            let at = Math.floor(where * span);
            if (nearMetadata && where > 0.8)
              at = Math.max(0, bytes.length - 1 - Math.floor((where - 0.8) * 10240));
            bytes[at] = value;
          }
          openBounded(memoryDisk(bytes), [
            [0, 256 * 1024],
            [3 * MiB - 7, 70_000],
            [7 * MiB, 256 * 1024],
          ]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
