/**
 * Robustness of every table reader: real images (the label fixtures and, when present, the
 * util-linux corpus) with random byte changes in the first 64 KiB and in the last sectors,
 * extreme values written over multi-byte fields, truncation, and 512- or 4096-byte sectors.
 * Whatever the bytes, reading must end quickly, never throw, never read off the disk, and give
 * either null or a table of whole, non-negative, exactly representable numbers. Slots are raw
 * values: a slot past the end of the disk is allowed here (the planner refuses to map it).
 * `npm run fuzz` runs the same properties for much longer.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TABLE_TYPES } from '../src/engine/partition.js';
import { readPartitionTable } from '../src/engine/tables/index.js';
import { CORPUS_PT_DIR, imageNames, LABELS_DIR, loadXzImage } from './support/images.js';
import { type Mutation, mutatedDisk, type ReadLog } from './support/mutated-disk.js';

/** One fixture per format and layout (all of them would only slow the run down). */
const FIXTURES = [
  'bsd-c',
  'bsd-offset64',
  'sun-overlap',
  'mac',
  'solaris-lp64',
  'solaris-ondisk',
  'unixware',
  'ps3',
  'dasd-lnx1-formatted',
  'dasd-cms1',
  'dasd-vol1',
  'dos-and-bsd',
  'gpt-no-pmbr',
];

/** `npm run fuzz` sets this: a long run over every label fixture, reporting its rate at the end. */
const LONG_RUN_SECONDS = Number(process.env.FUZZ_SECONDS ?? 0);

const images = [
  ...(LONG_RUN_SECONDS > 0 ? imageNames(LABELS_DIR) : FIXTURES).map((name) =>
    loadXzImage(join(LABELS_DIR, `${name}.img.xz`)),
  ),
  ...imageNames(CORPUS_PT_DIR).map((name) => loadXzImage(join(CORPUS_PT_DIR, `${name}.img.xz`))),
  // Tiny images add nothing: truncation produces every small size anyway.
].filter((image) => image.length >= 65536);

/** What the long run reports: how many reads, the slowest, and which formats the mutants gave. */
const stats = { iterations: 0, slowestMs: 0, found: new Map<string, number>() };

const EXTREMES = [0x00, 0xff, 0x7f, 0x80, 0x01];

/** A mutation of image `base`: byte flips near both ends, extreme multi-byte fields, truncation. */
function mutationOf(base: Uint8Array): fc.Arbitrary<Mutation> {
  const len = base.length;
  // Most labels live in the first few sectors: aim most changes there.
  const headOffset = fc.oneof(
    { weight: 3, arbitrary: fc.nat(Math.min(len, 2048) - 1) },
    { weight: 1, arbitrary: fc.nat(Math.min(len, 65536) - 1) },
  );
  const head = fc.tuple(headOffset, fc.nat(255));
  const tail = fc.tuple(fc.integer({ min: Math.max(0, len - 8192), max: len - 1 }), fc.nat(255));
  const field = fc
    .tuple(headOffset, fc.constantFrom(2, 4, 8), fc.constantFrom(...EXTREMES))
    .map(([at, width, value]) => Array.from({ length: width }, (_, i) => [at + i, value] as const));
  const size = fc.oneof(
    { weight: 6, arbitrary: fc.constant(len) },
    { weight: 1, arbitrary: fc.nat(len) },
    { weight: 1, arbitrary: fc.nat(Math.min(len, 70000)) },
  );
  return fc
    .record({
      sectorSize: fc.constantFrom(512, 4096),
      size,
      head: fc.array(head, { maxLength: 64 }),
      tail: fc.array(tail, { maxLength: 16 }),
      fields: fc.array(field, { maxLength: 8 }),
      resum: fc.boolean(),
    })
    .map(({ sectorSize, size, head, tail, fields, resum }) => {
      const bytes = [...head, ...tail, ...fields.flat()];
      // Sun labels are checksummed: without fixing the sum, only the checksum test is reached.
      if (resum) bytes.push(...sunChecksum(base, bytes));
      return { sectorSize, size, bytes };
    });
}

/** Byte changes that make sector 0's XOR checksum right again after `bytes` were applied. */
function sunChecksum(base: Uint8Array, bytes: ReadonlyArray<readonly [number, number]>): [number, number][] {
  const sector = base.slice(0, 512);
  for (const [at, value] of bytes) if (at < 510) sector[at] = value;
  let sum = 0;
  for (let off = 0; off < 510; off += 2) sum ^= ((sector[off] ?? 0) << 8) | (sector[off + 1] ?? 0);
  return [
    [510, sum >> 8],
    [511, sum & 0xff],
  ];
}

const case_ = fc
  .nat(images.length - 1)
  .chain((index) => mutationOf(images[index]!).map((mutation) => ({ index, mutation })));

/** Checks one read; returns a problem description or null. */
function check(base: Uint8Array, mutation: Mutation): string | null {
  const log: ReadLog[] = [];
  const disk = mutatedDisk(base, mutation, log);
  const warnings: string[] = [];
  const began = performance.now();
  const table = readPartitionTable(disk, { warn: (line) => warnings.push(line) });
  const took = performance.now() - began;
  stats.iterations++;
  stats.slowestMs = Math.max(stats.slowestMs, took);
  const type = table?.type ?? 'none';
  stats.found.set(type, (stats.found.get(type) ?? 0) + 1);
  if (took > 2000) return `took ${took} ms`;
  for (const { offset, length } of log) {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > disk.size) return `read at ${offset}`;
    if (!Number.isSafeInteger(length) || length < 0 || length > 65536) return `read of ${length} bytes`;
  }
  if (warnings.some((w) => typeof w !== 'string' || w.includes('\n'))) return 'bad warning';
  if (table === null) return null;
  if (!TABLE_TYPES.includes(table.type)) return `type ${table.type}`;
  if (table.sectorSize !== disk.sectorSize) return 'sector size';
  if (table.slots.length === 0 || table.slots.length > 256) return `${table.slots.length} slots`;
  const numbers = new Set(table.slots.map((slot) => slot.number));
  if (numbers.size !== table.slots.length) return 'duplicate numbers';
  for (const slot of table.slots) {
    const { number, start, size, container } = slot;
    if (!Number.isInteger(number) || number < 1 || number > 256) return `number ${number}`;
    for (const value of [start, size, start + size]) {
      if (!Number.isSafeInteger(value) || value < 0) return `slot ${number}: ${start}+${size}`;
    }
    if (!Number.isInteger(container) || container < 0) return `container ${container}`;
    if (container !== 0 && !numbers.has(container)) return `container ${container} missing`;
    if (container === number) return `slot ${number} contains itself`;
  }
  return null;
}

describe('table readers on mutated images', () => {
  it('has images to mutate', () => {
    expect(images.length).toBeGreaterThanOrEqual(FIXTURES.length);
  });

  it('unmutated images pass the same checks', () => {
    for (const image of images) {
      for (const sectorSize of [512, 4096]) {
        expect(check(image, { sectorSize, size: image.length, bytes: [] })).toBeNull();
      }
    }
  });

  it(
    'never throw, hang, read off the disk or return impossible slots',
    () => {
      const began = performance.now();
      fc.assert(
        fc.property(case_, ({ index, mutation }) => {
          let problem: string | null;
          try {
            problem = check(images[index]!, mutation);
          } catch (error) {
            problem = `threw ${String(error)}`;
          }
          expect(problem).toBeNull();
        }),
        {
          numRuns: LONG_RUN_SECONDS > 0 ? Number.MAX_SAFE_INTEGER : 400,
          interruptAfterTimeLimit: LONG_RUN_SECONDS > 0 ? LONG_RUN_SECONDS * 1000 : 4000,
          seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31),
        },
      );
      if (LONG_RUN_SECONDS > 0) {
        const seconds = (performance.now() - began) / 1000;
        const rate = (stats.iterations / seconds).toFixed(0);
        const kinds = [...stats.found].map(([type, n]) => `${type} ${n}`).join(', ');
        console.log(
          `fuzz: ${images.length} images, ${stats.iterations} iterations in ${seconds.toFixed(1)} s = ${rate} iterations/s`,
        );
        console.log(`fuzz: slowest read ${stats.slowestMs.toFixed(1)} ms; results: ${kinds}`);
      }
    },
    (LONG_RUN_SECONDS || 26) * 1000 + 4000,
  );
});
