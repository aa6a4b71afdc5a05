/**
 * Robustness of the LVM reader on hostile input: the lvm2-made fixture images with random byte
 * changes in the label, the metadata area headers and the metadata text (optionally with every
 * checksum made right again, so the mutations reach the text parser), truncated and with
 * 512/4096-byte sectors; mutated metadata texts straight into the parser; and random bytes.
 * Whatever the input, reading must end quickly, throw nothing but LvmError, stay on the disk with
 * bounded reads, and return well-formed data: LVs that map do so onto their PVs' extents, and
 * their views read only inside the PVs. `FUZZ_SECONDS=60` runs the same properties for longer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assembleVolumeGroups,
  DEFAULT_LVM_LIMITS,
  LvmError,
  lvDisk,
  lvmCrc,
  mapLogicalVolume,
  parseVolumeGroupMetadata,
  readMdaHeader,
  readMetadataText,
  readPhysicalVolume,
  type VolumeGroupMetadata,
} from '../src/engine/lvm/index.js';
import type { Disk } from '../src/io/disk.js';
import { LVM_FIXTURE_SETS, lvmFixtureImage } from './support/lvm-fixtures.js';
import { memoryDisk } from './support/memory-disk.js';
import { type Mutation, mutatedDisk, type ReadLog } from './support/mutated-disk.js';

const LONG_RUN_SECONDS = Number(process.env.FUZZ_SECONDS ?? 0);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const runs = (quick: number) => ({
  numRuns: LONG_RUN_SECONDS > 0 ? Number.MAX_SAFE_INTEGER : quick,
  interruptAfterTimeLimit: LONG_RUN_SECONDS > 0 ? LONG_RUN_SECONDS * 1000 : 5000,
  seed: SEED,
});
const testTimeout = (LONG_RUN_SECONDS || 20) * 1000 + 10_000;

const IMAGES = Object.values(LVM_FIXTURE_SETS)
  .flat()
  .map((name) => lvmFixtureImage(name));

/** Where each image keeps its structures: label sector, area headers, current texts. */
function hotSpots(image: Uint8Array) {
  const disk = memoryDisk(image);
  const pv = readPhysicalVolume(disk)!;
  const areas = pv.header.metadataAreas.map((area) => {
    const header = readMdaHeader(disk, area);
    const location = header.committed!;
    return {
      start: area.offset,
      size: area.size,
      text: header.start + location.offset,
      textSize: location.size,
    };
  });
  return { label: pv.labelSector * 512, areas };
}
const SPOTS = IMAGES.map(hotSpots);
const TEXTS = IMAGES.map((image) => {
  const disk = memoryDisk(image);
  const pv = readPhysicalVolume(disk)!;
  return readMetadataText(disk, readMdaHeader(disk, pv.header.metadataAreas[0]!))!.text;
});

const EXTREMES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x20, 0x7b, 0x7d, 0x22, 0x3d, 0x5b, 0x5d];

function mutationOf(index: number): fc.Arbitrary<Mutation & { resum: boolean }> {
  const image = IMAGES[index]!;
  const spots = SPOTS[index]!;
  const len = image.length;
  const around = (from: number, size: number) =>
    fc.integer({ min: Math.max(0, from), max: Math.min(len - 1, from + size - 1) });
  const offset = fc.oneof(
    around(spots.label, 512),
    ...spots.areas.map((a) => around(a.start, 64)),
    ...spots.areas.map((a) => around(a.text, Math.max(1, Math.min(a.textSize, a.size)))),
    fc.nat(Math.min(len, 1 << 20) - 1),
  );
  const byte = fc.tuple(offset, fc.oneof(fc.nat(255), fc.constantFrom(...EXTREMES)));
  const field = fc
    .tuple(offset, fc.constantFrom(4, 8), fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01))
    .map(([at, width, value]) => Array.from({ length: width }, (_, i) => [at + i, value] as const));
  const size = fc.oneof(
    { weight: 6, arbitrary: fc.constant(len) },
    { weight: 1, arbitrary: fc.nat(len) },
    { weight: 1, arbitrary: fc.nat(Math.min(len, 70_000)) },
  );
  return fc
    .record({
      sectorSize: fc.constantFrom(512, 4096),
      size,
      bytes: fc.array(byte, { maxLength: 24 }),
      fields: fc.array(field, { maxLength: 4 }),
      resum: fc.boolean(),
    })
    .map(({ fields, bytes, ...rest }) => ({ ...rest, bytes: [...bytes, ...fields.flat()] }));
}

/** Checksums made right again after the mutation: text, area headers, label, in that order. */
function resummed(base: Uint8Array, mutation: Mutation, spots: ReturnType<typeof hotSpots>): Mutation {
  const bytes = [...mutation.bytes];
  const disk = () => mutatedDisk(base, { ...mutation, bytes });
  const put32 = (at: number, value: number) => {
    for (let i = 0; i < 4; i++) bytes.push([at + i, (value >>> (8 * i)) & 0xff]);
  };
  for (const area of spots.areas) {
    const header = disk().readAt(area.start, 512);
    if (header.length < 512) continue;
    const view = new DataView(header.buffer, header.byteOffset, 512);
    const offset = Number(view.getBigUint64(40, true));
    const size = Number(view.getBigUint64(48, true));
    if (offset > 0 && offset < area.size && size > 0 && size <= area.size - 512) {
      const first = Math.min(size, area.size - offset);
      const text = new Uint8Array(size);
      text.set(disk().readAt(area.start + offset, first));
      text.set(disk().readAt(area.start + 512, size - first), first);
      put32(area.start + 56, lvmCrc(text));
    }
    put32(area.start, lvmCrc(disk().readAt(area.start + 4, 508)));
  }
  put32(spots.label + 16, lvmCrc(disk().readAt(spots.label + 20, 492)));
  return { ...mutation, bytes };
}

/** What the long run reports: how the reads ended. */
const outcomes = new Map<string, number>();
const tally = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);

/** Messages may quote hostile names, but never carry control characters (escapes, line breaks). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const unprintable = (text: string) => /[\x00-\x1f\x7f]/.test(text);

const safe = (n: number) => Number.isSafeInteger(n) && n >= 0;

/** Problems with a VG read from hostile metadata, or null. Maps every LV and reads its view. */
function vgProblem(vg: VolumeGroupMetadata, pvDisks?: Map<string, Disk>, log?: ReadLog[]): string | null {
  if (!safe(vg.extentSize) || vg.extentSize < 1) return `extent size ${vg.extentSize}`;
  if (!safe(vg.freeExtents) || vg.freeExtents > vg.extentCount)
    return `free ${vg.freeExtents} of ${vg.extentCount}`;
  const pvs = new Map(vg.physicalVolumes.map((pv) => [pv.name, pv]));
  for (const lv of vg.logicalVolumes) {
    let next = 0;
    for (const seg of lv.segments) {
      if (seg.startExtent !== next || !safe(seg.extentCount) || seg.extentCount < 1)
        return `${lv.name}: segments`;
      next += seg.extentCount;
    }
    const mapped = mapLogicalVolume(vg, lv.name);
    if (!mapped.ok) {
      if (typeof mapped.reason !== 'string' || unprintable(mapped.reason))
        return `bad reason ${JSON.stringify(mapped.reason)}`;
      continue;
    }
    let at = 0;
    for (const target of mapped.map.targets) {
      if (target.start !== at || !safe(target.length) || target.length < 1) return `${lv.name}: targets`;
      at += target.length;
      const places = target.kind === 'linear' ? [target] : target.stripes;
      const perPlace = target.length / places.length;
      for (const place of places) {
        const pv = pvs.get(place.pv)!;
        const end = pv.peStart + pv.peCount * vg.extentSize;
        if (!safe(place.offset) || place.offset < pv.peStart || place.offset + perPlace > end) {
          return `${lv.name}: ${place.offset}+${perPlace} outside ${pv.name}'s extents`;
        }
      }
      if (target.kind === 'striped' && (!safe(target.chunkSize) || target.chunkSize < 1)) return 'chunk size';
    }
    if (at !== mapped.map.sectors) return `${lv.name}: ${at} of ${mapped.map.sectors} sectors mapped`;
    if (pvDisks && vg.physicalVolumes.every((pv) => pvDisks.has(pv.id))) {
      const view = lvDisk(mapped.map, pvDisks);
      const before = log?.length ?? 0;
      for (const offset of [0, 511, Math.floor(view.size / 2), view.size - 700]) {
        const got = view.readAt(Math.max(0, offset), 4096);
        if (got.length > 4096) return 'view read too long';
      }
      if (log && log.length - before > 4 * 64) return 'view read in too many pieces';
    }
  }
  return null;
}

function checkImage(index: number, mutation: Mutation): string | null {
  const log: ReadLog[] = [];
  const disk = mutatedDisk(IMAGES[index]!, mutation, log);
  const began = performance.now();
  let pv: ReturnType<typeof readPhysicalVolume>;
  try {
    pv = readPhysicalVolume(disk);
  } catch (error) {
    if (!(error instanceof LvmError)) return `threw ${String(error)}`;
    tally('image: LvmError');
    if (unprintable(error.message)) return `bad message ${JSON.stringify(error.message)}`;
    return null;
  }
  if (performance.now() - began > 2000) return 'took over 2 s';
  tally(!pv ? 'image: no label' : pv.volumeGroup ? 'image: VG' : 'image: PV without VG');
  let total = 0;
  for (const { offset, length } of log) {
    if (!safe(offset) || offset > disk.size) return `read at ${offset}`;
    if (!safe(length) || length > DEFAULT_LVM_LIMITS.maxTextBytes) return `read of ${length} bytes`;
    total += length;
  }
  if (total > 2 * DEFAULT_LVM_LIMITS.maxTextBytes + 65536) return `${total} bytes read`;
  if (!pv) return null;
  if (pv.labelSector < 0 || pv.labelSector > 3) return `label sector ${pv.labelSector}`;
  if (pv.warnings.some(unprintable)) return 'bad warning';
  if (!pv.volumeGroup) return null;
  const assembly = assembleVolumeGroups([{ source: 'fuzz', disk, pv }]);
  const disks = new Map(
    assembly.volumeGroups.flatMap((g) =>
      g.members.filter((m) => m.found).map((m) => [m.metadata.id, disk] as const),
    ),
  );
  log.length = 0;
  const problem = vgProblem(pv.volumeGroup, disks, log);
  for (const { offset, length } of log) {
    if (!safe(offset) || offset > disk.size || length > 4096) return `view read ${offset}+${length}`;
  }
  return problem;
}

/** Text edits: cut, repeat or overwrite a span, or insert characters that matter to the syntax. */
const textEdit = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), length: fc.nat(200) }),
  fc.record({
    kind: fc.constant('repeat' as const),
    at: fc.nat(),
    length: fc.nat(400),
    times: fc.integer({ min: 1, max: 50 }),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.constantFrom(
        '{',
        '}',
        '[',
        ']',
        '=',
        '"',
        "'",
        ',',
        '#',
        '\\',
        '\n',
        '\0',
        ' = ',
        '-1',
        '99999999999999999999',
        '1.5',
        'x {',
        '"pv0", 0',
        'segment9 {',
      ),
      fc.string({ maxLength: 8 }),
    ),
  }),
  fc.record({ kind: fc.constant('digits' as const), at: fc.nat(), digit: fc.constantFrom('0', '1', '9') }),
);

type TextEdit = typeof textEdit extends fc.Arbitrary<infer T> ? T : never;

function edited(text: string, edits: readonly TextEdit[]): string {
  let s = text;
  for (const edit of edits) {
    const at = edit.at % (s.length + 1);
    if (edit.kind === 'cut') s = s.slice(0, at) + s.slice(at + edit.length);
    else if (edit.kind === 'repeat')
      s = s.slice(0, at) + s.slice(at, at + edit.length).repeat(edit.times) + s.slice(at);
    else if (edit.kind === 'insert') s = s.slice(0, at) + edit.text + s.slice(at);
    else {
      // Change the number nearest `at`: counts, extents and sizes are where the checks live.
      const match = /\d+/g;
      match.lastIndex = at;
      const found = match.exec(s) ?? /\d+/.exec(s);
      if (found)
        s =
          s.slice(0, found.index) +
          edit.digit.repeat(found[0].length + 1) +
          s.slice(found.index + found[0].length);
    }
  }
  return s;
}

function checkText(text: string): string | null {
  const began = performance.now();
  let vg: VolumeGroupMetadata;
  try {
    vg = parseVolumeGroupMetadata(text);
  } catch (error) {
    if (!(error instanceof LvmError)) return `threw ${String(error)}`;
    tally('text: LvmError');
    return unprintable(error.message) ? `bad message ${JSON.stringify(error.message)}` : null;
  }
  tally('text: VG');
  if (performance.now() - began > 2000) return 'took over 2 s';
  return vgProblem(vg);
}

describe('LVM reader on hostile input', () => {
  it('has lvm2-made images and texts to mutate', () => {
    expect(IMAGES.length).toBeGreaterThanOrEqual(5);
    for (let i = 0; i < IMAGES.length; i++) {
      expect(checkImage(i, { sectorSize: 512, size: IMAGES[i]!.length, bytes: [] })).toBeNull();
      expect(readPhysicalVolume(memoryDisk(IMAGES[i]!))?.volumeGroup).not.toBeNull();
    }
  });

  it(
    'mutated images: only LvmError, bounded reads, well-formed volume groups',
    () => {
      const cases = fc
        .nat(IMAGES.length - 1)
        .chain((index) => mutationOf(index).map((mutation) => ({ index, mutation })));
      fc.assert(
        fc.property(cases, ({ index, mutation }) => {
          const applied = mutation.resum ? resummed(IMAGES[index]!, mutation, SPOTS[index]!) : mutation;
          expect(checkImage(index, applied)).toBeNull();
        }),
        runs(300),
      );
    },
    testTimeout,
  );

  it(
    'mutated metadata texts: a VG or an LvmError, and every mapping inside its PVs',
    () => {
      const cases = fc.record({
        index: fc.nat(TEXTS.length - 1),
        edits: fc.array(textEdit, { minLength: 1, maxLength: 6 }),
      });
      fc.assert(
        fc.property(cases, ({ index, edits }) => {
          expect(checkText(edited(TEXTS[index]!, edits))).toBeNull();
        }),
        runs(1500),
      );
    },
    testTimeout,
  );

  it(
    'random bytes, with and without a label planted at the start',
    () => {
      const cases = fc.record({
        bytes: fc.uint8Array({ minLength: 0, maxLength: 16384 }),
        plant: fc.constantFrom(null, 0, 1, 2, 3),
      });
      fc.assert(
        fc.property(cases, ({ bytes, plant }) => {
          const image = new Uint8Array(Math.max(bytes.length, 2048));
          image.set(bytes);
          if (plant !== null) {
            image.set(Buffer.from('LABELONE'), plant * 512);
            image[plant * 512 + 8] = plant;
            image.fill(0, plant * 512 + 9, plant * 512 + 16);
            image.set(Buffer.from('LVM2 001'), plant * 512 + 24);
            new DataView(image.buffer).setUint32(
              plant * 512 + 16,
              lvmCrc(image.subarray(plant * 512 + 20, plant * 512 + 512)),
              true,
            );
          }
          const log: ReadLog[] = [];
          const disk = mutatedDisk(image, { sectorSize: 512, size: image.length, bytes: [] }, log);
          try {
            readPhysicalVolume(disk);
          } catch (error) {
            expect(error).toBeInstanceOf(LvmError);
          }
          for (const { offset, length } of log) {
            expect(offset >= 0 && offset <= image.length && length <= DEFAULT_LVM_LIMITS.maxTextBytes).toBe(
              true,
            );
          }
        }),
        runs(500),
      );
    },
    testTimeout,
  );

  it.runIf(LONG_RUN_SECONDS > 0)('reports what the long run reached', () => {
    console.log(`lvm fuzz (seed ${SEED}): ${[...outcomes].map(([what, n]) => `${what} ${n}`).join(', ')}`);
  });

  it('a text of nothing but openings, or of millions of entries, ends with LvmError quickly', () => {
    for (const text of [
      'a {'.repeat(1_000_000),
      'a = 1\n'.repeat(1_000_000),
      `x = [${'1,'.repeat(1_000_000)}]`,
    ]) {
      const began = performance.now();
      expect(checkText(text)).toBeNull();
      expect(() => parseVolumeGroupMetadata(text)).toThrow(LvmError);
      expect(performance.now() - began).toBeLessThan(2000);
    }
  });
});
