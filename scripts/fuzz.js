#!/usr/bin/env node
/**
 * Long fuzz run of every partition-table reader (the short one is test/tables-fuzz.test.ts).
 * Mutates the label fixtures and, when present, the util-linux corpus images: byte changes in the
 * first 64 KiB and the last sectors, extreme multi-byte values, truncation, 512/4096-byte sectors.
 * Fails on a throw, a read off the disk, a slow read, or a slot that is not a whole, non-negative,
 * exactly representable number.
 *
 *   npm run build && npm run fuzz                 # 60 seconds
 *   node scripts/fuzz.js --seconds 600 --seed 42
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist', 'engine');
if (!existsSync(join(dist, 'tables', 'index.js'))) {
  console.error('fuzz: dist/ is missing; run `npm run build` first');
  process.exit(2);
}
const { readPartitionTable } = await import(join(dist, 'tables', 'index.js'));
const { TABLE_TYPES } = await import(join(dist, 'partition.js'));

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] !== undefined ? Number(process.argv[at + 1]) : fallback;
}
const seconds = option('seconds', 60);
const seed = option('seed', Date.now() % 2 ** 31);

function load(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.img.xz'))
    .sort()
    .map((f) => ({
      name: f,
      bytes: new Uint8Array(execFileSync('xz', ['-dc', join(dir, f)], { maxBuffer: 1 << 28 })),
    }));
}
// Tiny images add nothing: truncation produces every small size anyway.
const images = [
  ...load(join(root, 'fixtures', 'labels')),
  ...load(join(root, '..', 'shared', 'corpus', 'blkid', 'pt')),
].filter((image) => image.bytes.length >= 65536);
if (images.length === 0) {
  console.error('fuzz: no images found');
  process.exit(2);
}

function mutatedDisk(base, { sectorSize, size, bytes }, log) {
  return {
    sectorSize,
    size,
    readAt(offset, length) {
      log.push([offset, length]);
      if (offset < 0 || offset >= size) return new Uint8Array(0);
      const end = Math.min(size, offset + length);
      const out = new Uint8Array(end - offset);
      out.set(base.subarray(offset, Math.min(end, base.length)));
      for (const [at, value] of bytes) if (at >= offset && at < end) out[at - offset] = value;
      return out;
    },
  };
}

function sunChecksum(base, bytes) {
  const sector = base.slice(0, 512);
  for (const [at, value] of bytes) if (at < 510) sector[at] = value;
  let sum = 0;
  for (let off = 0; off < 510; off += 2) sum ^= (sector[off] << 8) | sector[off + 1];
  return [
    [510, sum >> 8],
    [511, sum & 0xff],
  ];
}

function mutationOf(base) {
  const len = base.length;
  const headOffset = fc.oneof(
    { weight: 3, arbitrary: fc.nat(Math.min(len, 2048) - 1) },
    { weight: 1, arbitrary: fc.nat(Math.min(len, 65536) - 1) },
  );
  const tail = fc.tuple(fc.integer({ min: Math.max(0, len - 8192), max: len - 1 }), fc.nat(255));
  const field = fc
    .tuple(headOffset, fc.constantFrom(2, 4, 8), fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01))
    .map(([at, width, value]) => Array.from({ length: width }, (_, i) => [at + i, value]));
  return fc
    .record({
      sectorSize: fc.constantFrom(512, 4096),
      size: fc.oneof(
        { weight: 6, arbitrary: fc.constant(len) },
        { weight: 1, arbitrary: fc.nat(len) },
        { weight: 1, arbitrary: fc.nat(Math.min(len, 70000)) },
      ),
      head: fc.array(fc.tuple(headOffset, fc.nat(255)), { maxLength: 64 }),
      tail: fc.array(tail, { maxLength: 16 }),
      fields: fc.array(field, { maxLength: 8 }),
      resum: fc.boolean(),
    })
    .map(({ sectorSize, size, head, tail, fields, resum }) => {
      const bytes = [...head, ...tail, ...fields.flat()];
      if (resum) bytes.push(...sunChecksum(base, bytes));
      return { sectorSize, size, bytes };
    });
}

const found = new Map();
let iterations = 0;
let slowest = 0;

function check(base, mutation) {
  const log = [];
  const disk = mutatedDisk(base, mutation, log);
  const began = performance.now();
  const table = readPartitionTable(disk, {
    warn: (line) => {
      if (typeof line !== 'string' || line.includes('\n'))
        throw new Error(`bad warning ${JSON.stringify(line)}`);
    },
  });
  const took = performance.now() - began;
  slowest = Math.max(slowest, took);
  iterations++;
  if (took > 2000) return `took ${took.toFixed(0)} ms`;
  for (const [offset, length] of log) {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > disk.size) return `read at ${offset}`;
    if (!Number.isSafeInteger(length) || length < 0 || length > 65536) return `read of ${length} bytes`;
  }
  const type = table ? table.type : 'none';
  found.set(type, (found.get(type) ?? 0) + 1);
  if (!table) return null;
  if (!TABLE_TYPES.includes(table.type)) return `type ${table.type}`;
  if (table.sectorSize !== disk.sectorSize) return 'sector size';
  if (table.slots.length === 0 || table.slots.length > 256) return `${table.slots.length} slots`;
  const numbers = new Set(table.slots.map((slot) => slot.number));
  if (numbers.size !== table.slots.length) return 'duplicate numbers';
  for (const { number, start, size, container } of table.slots) {
    if (!Number.isInteger(number) || number < 1 || number > 256) return `number ${number}`;
    for (const value of [start, size, start + size]) {
      if (!Number.isSafeInteger(value) || value < 0) return `slot ${number}: ${start}+${size}`;
    }
    if (!Number.isInteger(container) || container < 0) return `container ${container}`;
    if (container !== 0 && (!numbers.has(container) || container === number)) return `container ${container}`;
  }
  return null;
}

const cases = fc
  .nat(images.length - 1)
  .chain((index) => mutationOf(images[index].bytes).map((mutation) => ({ index, mutation })));

console.log(`fuzz: ${images.length} images, ${seconds} s, seed ${seed}`);
const began = performance.now();
const result = fc.check(
  fc.property(cases, ({ index, mutation }) => {
    let problem;
    try {
      problem = check(images[index].bytes, mutation);
    } catch (error) {
      problem = `threw ${error?.stack ?? error}`;
    }
    if (problem) throw new Error(`${images[index].name}: ${problem}`);
  }),
  { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000, seed },
);
const elapsed = (performance.now() - began) / 1000;
console.log(
  `fuzz: ${iterations} iterations in ${elapsed.toFixed(1)} s = ${(iterations / elapsed).toFixed(0)} iterations/s`,
);
console.log(
  `fuzz: slowest read ${slowest.toFixed(1)} ms; results: ${[...found].map(([t, n]) => `${t} ${n}`).join(', ')}`,
);
if (result.failed) {
  console.error(fc.defaultReportMessage(result));
  process.exit(1);
}
console.log('fuzz: no problem found');
