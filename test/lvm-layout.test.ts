/**
 * The one-pass reader of lvm2's own text layout (lvm2-layout.ts) against the general path
 * (config-text.ts + metadata.ts): on every text, it gives the general path's VG or leaves the text
 * to it (null), never a VG where the general path finds an error. Texts: lvm2's own from the
 * fixture images, the same in a backup's layout (tabs, comments), a VG of 500 LVs, hand-made
 * texts outside the layout, and random edits of all of these.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LVM_LIMITS,
  LvmError,
  type LvmLimits,
  parseConfigText,
  parseVolumeGroupMetadata,
  readMdaHeader,
  readMetadataText,
  readPhysicalVolume,
  type VolumeGroupMetadata,
  volumeGroupFromConfig,
} from '../src/engine/lvm/index.js';
import { lvm2LayoutVolumeGroup } from '../src/engine/lvm/lvm2-layout.js';
import { LVM_FIXTURE_SETS, lvmFixtureImage } from './support/lvm-fixtures.js';
import { vgText } from './support/lvm-writer.js';
import { memoryDisk } from './support/memory-disk.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

/** lvm2's texts as its metadata areas hold them, one per fixture image. */
const FIXTURE_TEXTS = Object.values(LVM_FIXTURE_SETS)
  .flat()
  .map((name) => {
    const disk = memoryDisk(lvmFixtureImage(name));
    const pv = readPhysicalVolume(disk)!;
    return { name, text: readMetadataText(disk, readMdaHeader(disk, pv.header.metadataAreas[0]!))!.text };
  });

/** The same text as lvm2 writes a backup: indented by tabs, with comments after some values. */
function backupLayout(text: string): string {
  let depth = 0;
  return text
    .split('\n')
    .map((line) => {
      if (line === '}') depth--;
      const out = line === '' ? '' : '\t'.repeat(depth) + line.replace(/^(\w+ = \d+)$/, '$1\t# a number');
      if (line.endsWith(' {')) depth++;
      return out;
    })
    .join('\n');
}

/** A VG of `count` linear LVs, as lvm2 writes it into a metadata area (as bench/lvm-metadata.js makes). */
function manyLvs(count: number): string {
  return vgText('big', count, 1, count + 10);
}

function generalPath(text: string, limits: LvmLimits): VolumeGroupMetadata | string {
  try {
    return volumeGroupFromConfig(parseConfigText(text, limits));
  } catch (error) {
    if (!(error instanceof LvmError)) throw error;
    return error.message;
  }
}

/** Null when the one-pass reader agrees with the general path, else what differs. */
function disagreement(text: string, limits: LvmLimits = DEFAULT_LVM_LIMITS): string | null {
  const fast = lvm2LayoutVolumeGroup(text, limits);
  if (fast === null) return null;
  const general = generalPath(text, limits);
  if (typeof general === 'string') return `read a VG where the general path says: ${general}`;
  try {
    expect(fast).toStrictEqual(general);
  } catch {
    return 'a different VG';
  }
  // The same keys in the same order too: `--json` prints them as they are.
  return JSON.stringify(fast) === JSON.stringify(general) ? null : 'keys in another order';
}

describe("lvm2's text layout read in one pass", () => {
  it("reads lvm2's own texts as the general path does", () => {
    expect(FIXTURE_TEXTS.length).toBeGreaterThanOrEqual(5);
    for (const { name, text } of FIXTURE_TEXTS) {
      const fast = lvm2LayoutVolumeGroup(text);
      expect(fast, name).not.toBeNull();
      expect(disagreement(text)).toBeNull();
    }
    // The thin pool, its metadata and data volumes and a thin LV: segments kept as written.
    const thin = lvm2LayoutVolumeGroup(FIXTURE_TEXTS.find((f) => f.name === 'thin')!.text)!;
    expect(thin.logicalVolumes.flatMap((lv) => lv.segments.map((seg) => seg.kind))).toEqual(
      expect.arrayContaining(['thin-pool', 'thin', 'striped']),
    );
  });

  it('reads the layout of a backup (tabs, comments) and a VG of 500 LVs', () => {
    for (const text of [
      ...FIXTURE_TEXTS.map((f) => backupLayout(f.text)),
      manyLvs(500),
      backupLayout(manyLvs(20)),
    ]) {
      const fast = lvm2LayoutVolumeGroup(text);
      expect(fast).not.toBeNull();
      expect(disagreement(text)).toBeNull();
      expect(parseVolumeGroupMetadata(text)).toStrictEqual(fast);
    }
  });

  it('leaves every text outside the layout, or with a problem, to the general path', () => {
    const segment = (name: string, extent: number, start = 0) =>
      `${name} {\nstart_extent = ${start}\nextent_count = 1\ntype = "striped"\nstripe_count = 1\nstripes = ["pv0", ${extent}]\n}`;
    const base = vgText('vg', 2, 2, 10);
    const variants: [string, string][] = [
      // Outside the layout, each still a text the general path reads.
      ['segment_count = 1', 'segment_count = 1\nsegment_count = 1'],
      ['lv1 {', 'lv0 {\nflags = []\n}\nlv1 {'],
      ['status = ["READ", "WRITE", "VISIBLE"]', 'status = ["READ", "WRITE", "VISIBLE"] flags = []'],
      ['stripe_count = 1', 'stripe_count=1'],
      ['stripe_count = 1', 'stripe_count = 1.0'],
      ['stripe_count = 1', 'stripe_count = +1'],
      ['"pv0", 0', '"pv0" 0'],
      ['"pv0", 0', '"pv0", # where\n0'],
      ['"pv0", 0', "'pv0', 0"],
      ['type = "striped"', 'type = striped'],
      ['type = "striped"', 'type = "cache"\npolicy_settings {\n}'],
      ['type = "striped"', 'type = "thin"\npool = "a"\npool = "b"'],
      ['type = "striped"', 'type = "str\\"iped"'],
      ['segment1 {', 'segment1 { }\nsegment1 {'],
      ['segment1 {', `${segment('segment1', 5)}\nsegment1 {`],
      ['segment1 {', `${segment('segment1', 5)}\n${segment('segment2', 6)}\nsegment1 {`],
      ['segment1 {', `${segment('segment2', 5)}\n${segment('segment3', 6)}\nsegment3 {`],
      ['segment1 {', '"segment1" {'],
      ['segment1 {', 'segment1\n{'],
      ['pe_start = 2048', 'pe_start = 2048\r'],
      ['pe_start = 2048', 'pe_start = 2048 }\n{'],
      ['creation_time = 1700000000', 'creation_time = 1700000000\nextra { a = 1 }'],
      ['logical_volumes {', 'other { }\nlogical_volumes {'],
      ['seqno = 7', 'seqno = 0000000000000000007'],
      // Problems the general path names.
      ['segment_count = 1', 'segment_count = 2'],
      ['start_extent = 0', 'start_extent = 1'],
      ['"pv0", 0', '"pv0", 9'],
      ['"pv0", 0', '"pv7", 0'],
      ['stripe_count = 1', 'stripe_count = 2'],
      ['extent_size = 8192', 'extent_size = 0'],
      ['pe_start = 2048', 'pe_begin = 2048'],
      ['version = 1', 'version = 2'],
      ['extent_count = 2', 'extent_count = "2"'],
      ['id = "aaaaaa', 'id = "a?aaaa'],
      ['lv1 {', 'lv 1 {'],
      ['lv1 {', '-lv1 {'],
      ['max_lv = 0', 'max lv = 0'],
      ['max_lv = 0', 'max#lv = 0'],
      ['max_lv = 0', 'logical_volumes = 0'],
      ['}\n', '}\n}\n'],
    ];
    for (const [from, to] of variants) {
      expect(base.includes(from), from).toBe(true);
      const text = base.replace(from, to);
      expect(lvm2LayoutVolumeGroup(text), to).toBeNull();
      const general = generalPath(text, DEFAULT_LVM_LIMITS);
      if (typeof general === 'string') expect(() => parseVolumeGroupMetadata(text)).toThrow(general);
      else expect(parseVolumeGroupMetadata(text)).toStrictEqual(general);
    }
    // A segment name written again after others: libdm merges the two sections into one.
    const again = vgText('vg', 1, 3, 10)
      .replace('segment_count = 1', 'segment_count = 3')
      .replace(
        'segment1 {\nstart_extent = 0\nextent_count = 3',
        `${segment('a', 0, 0)}\n${segment('b', 1, 1)}\na {\nstart_extent = 2\nextent_count = 1`,
      );
    expect(again).toContain('\na {\nstart_extent = 2');
    expect(lvm2LayoutVolumeGroup(again)).toBeNull();
    expect(() => parseVolumeGroupMetadata(again)).toThrow(
      /lv0: segment_count is 3 but 2 segments are written/,
    );
    // Strings over several lines, comments after values and segments of other types are inside it.
    for (const [from, to] of [
      ['type = "striped"', 'type = "thin"\nthin_pool = "pool"\n__proto__ = "x"\n0 = 1'],
      ['type = "striped"', 'type = "raid1+RAID_FLAG"\nraids = ["lv1_rmeta_0", "lv1_rimage_0"]'],
      ['type = "striped"', 'type = "mirror"\nmirrors = ["pv0", 0, "lv1", 0]'],
      ['type = "striped"', 'type = "mirror"\nmirrors = ["pv0", 0, "pv0", 5]\nmirror_count = 2'],
      ['type = "striped"', 'type = "something-new"'],
      ['creation_host = "host"', 'creation_host = "two\nlines"'],
      ['seqno = 7', 'seqno = 7 # after'],
      ['"pv0", 0', '"pv0",\n0'],
    ]) {
      const text = base.replace(from!, to!);
      expect(lvm2LayoutVolumeGroup(text), to).not.toBeNull();
      expect(disagreement(text)).toBeNull();
    }
  });

  it('keeps to the limits the general path keeps to', () => {
    const text = vgText('vg', 3);
    for (const limits of [
      { ...DEFAULT_LVM_LIMITS, maxDepth: 3 },
      { ...DEFAULT_LVM_LIMITS, maxDepth: 4 },
      { ...DEFAULT_LVM_LIMITS, maxNodes: 40 },
      { ...DEFAULT_LVM_LIMITS, maxNodes: 400 },
      { ...DEFAULT_LVM_LIMITS, maxArrayItems: 2 },
      { ...DEFAULT_LVM_LIMITS, maxArrayItems: 3 },
    ]) {
      expect(disagreement(text, limits)).toBeNull();
    }
    expect(lvm2LayoutVolumeGroup(text, { ...DEFAULT_LVM_LIMITS, maxDepth: 4 })).not.toBeNull();
    expect(lvm2LayoutVolumeGroup(text, { ...DEFAULT_LVM_LIMITS, maxDepth: 3 })).toBeNull();
  });

  it('stays linear on hostile sizes: an LV of 50,000 segments, a segment of 100,000 keys', () => {
    const lv = (body: string) =>
      vgText('vg', 1)
        .replace(/lv0 \{[\s\S]*\n\}\n\}/, `lv0 {\n${body}\n}\n}`)
        .replace('pe_count = 1000', 'pe_count = 100000');
    const segments = Array.from(
      { length: 50_000 },
      (_, i) =>
        `s${i} {\nstart_extent = ${i}\nextent_count = 1\ntype = "striped"\nstripe_count = 1\nstripes = ["pv0", ${i}]\n}`,
    ).join('\n');
    const keys = Array.from({ length: 100_000 }, (_, i) => `k${i} = ${i}`).join('\n');
    for (const text of [
      lv(`${segments}\nid = "aaaaaa-bbbb-cccc-dddd-eeee-ffff-000000"\nstatus = []\nsegment_count = 50000`),
      lv(
        `s {\nstart_extent = 0\nextent_count = 1\ntype = "thin"\n${keys}\n}\nid = "aaaaaa-bbbb-cccc-dddd-eeee-ffff-000000"\nstatus = []\nsegment_count = 1`,
      ),
    ]) {
      const began = performance.now();
      const vg = lvm2LayoutVolumeGroup(text);
      expect(performance.now() - began).toBeLessThan(3000);
      expect(vg?.logicalVolumes[0]?.segments.length).toBeGreaterThan(0);
    }
  });

  it('agrees with the general path on random edits of these texts', () => {
    const texts = [
      ...FIXTURE_TEXTS.map((f) => f.text),
      vgText('vg', 3, 2, 10),
      backupLayout(vgText('vg', 2)),
    ];
    const edit = fc.record({
      at: fc.nat(),
      cut: fc.nat(40),
      insert: fc.oneof(
        fc.constantFrom(
          '{',
          '}',
          '[',
          ']',
          '=',
          ' = ',
          '"',
          "'",
          ',',
          '#',
          '\\',
          '\n',
          '\t',
          '\r',
          '\0',
          ' ',
          '0',
          '9',
          '-1',
          '1.5',
          '99999999999999999999',
          'x {\n',
          '}\n',
          '"pv0", 0',
          'lv0 {\n',
          'segment1 {\n',
          'id = "aaaaaa-bbbb-cccc-dddd-eeee-ffff-gggggg"\n',
        ),
        fc.string({ maxLength: 6 }),
      ),
    });
    let read = 0;
    fc.assert(
      fc.property(
        fc.nat(texts.length - 1),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        (index, edits) => {
          let text = texts[index]!;
          for (const { at, cut, insert } of edits) {
            const where = at % (text.length + 1);
            text = text.slice(0, where) + insert + text.slice(where + cut);
          }
          if (lvm2LayoutVolumeGroup(text) !== null) read++;
          expect(disagreement(text)).toBeNull();
        },
      ),
      { numRuns: 1500, seed: SEED },
    );
    // Edits that leave the text valid (in comments, names, ignored values) still take the one pass.
    expect(read).toBeGreaterThan(20);
  });
});
