/**
 * The LVM reader's parts on bytes and texts built for the purpose: lvm2's CRC, the label and PV
 * header, the metadata area header and its circular buffer, the text format's syntax, and the
 * checks made while reading a VG. Real lvm2 output is covered by lvm-fixtures and lvm-real.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LVM_LIMITS,
  findPvLabel,
  LvmError,
  lvmCrc,
  mapLogicalVolume,
  parseConfigText,
  parsePvHeader,
  parseVolumeGroupMetadata,
  readPhysicalVolume,
} from '../src/engine/lvm/index.js';
import { tableCrc32Update } from '../src/io/crc32.js';
import { vgText, writePv } from './support/lvm-writer.js';
import { memoryDisk } from './support/memory-disk.js';

/** lvm2's original CRC (lib/misc/crc.c before its table was widened): 4 bits at a time. */
function nibbleCrc(bytes: Uint8Array, initial = 0xf597a6cf): number {
  const table = [
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
  ];
  let crc = initial;
  for (const byte of bytes) {
    crc ^= byte;
    crc = (crc >>> 4) ^ table[crc & 0xf]!;
    crc = (crc >>> 4) ^ table[crc & 0xf]!;
  }
  return crc >>> 0;
}

const errorOf = (f: () => unknown): string => {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(LvmError);
    return (error as Error).message;
  }
  throw new Error('no error');
};

describe('lvm2 CRC', () => {
  it('equals lvm2 calc_crc, also continued over two pieces', () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) & 0xff);
    expect(lvmCrc(bytes)).toBe(nibbleCrc(bytes));
    expect(lvmCrc(bytes.subarray(300), lvmCrc(bytes.subarray(0, 300)))).toBe(nibbleCrc(bytes));
    expect(lvmCrc(new Uint8Array(0))).toBe(0xf597a6cf);
    // The JavaScript table, used where Node's zlib has no crc32, gives the same.
    expect(lvmCrc(bytes, undefined, tableCrc32Update)).toBe(nibbleCrc(bytes));
  });
});

describe('PV label and header', () => {
  it('finds the label in any of the first four sectors and reads the header', () => {
    for (const labelSector of [0, 1, 2, 3]) {
      const disk = memoryDisk(writePv({ labelSector, text: null }));
      const label = findPvLabel(disk)!;
      expect(label.sector).toBe(labelSector);
      expect(parsePvHeader(label)).toEqual({
        uuid: 'abcdef-ghij-klmn-opqr-stuv-wxyz-012345',
        deviceSize: 4 * 1024 * 1024,
        dataAreas: [{ offset: 1024 * 1024, size: 0 }],
        metadataAreas: [{ offset: 4096, size: 1024 * 1024 - 4096 }],
        extension: { version: 2, flags: 1, bootloaderAreas: [] },
      });
    }
  });

  it('is null without a label, and an LvmError for a damaged one', () => {
    expect(findPvLabel(memoryDisk(new Uint8Array(4096)))).toBeNull();
    expect(findPvLabel(memoryDisk(new Uint8Array(100)))).toBeNull();
    const image = writePv({ text: null });
    image[600] = image[600]! ^ 1;
    expect(errorOf(() => findPvLabel(memoryDisk(image)))).toMatch(/^LVM label in sector 1: bad checksum/);
    const moved = writePv({ text: null });
    moved[512 + 8] = 2;
    expect(errorOf(() => findPvLabel(memoryDisk(moved)))).toBe(
      'LVM label in sector 1: it says it is in sector 2',
    );
  });

  it('refuses area lists that run off the label sector', () => {
    const image = writePv({ text: null });
    // Fill the rest of the sector with non-zero area entries: no terminator inside the label.
    const view = new DataView(image.buffer);
    for (let at = 512 + 72; at < 1024; at += 8) view.setBigUint64(at, 1n, true);
    view.setUint32(512 + 16, lvmCrc(image.subarray(512 + 20, 1024)), true);
    expect(errorOf(() => parsePvHeader(findPvLabel(memoryDisk(image))!))).toMatch(
      /data area list overflows the label/,
    );
  });
});

describe('metadata area', () => {
  it('reads a text that wraps around the end of the circular buffer', () => {
    const text = vgText('wrapvg', 3);
    const mdaSize = 8192;
    // Start 100 bytes before the end of the area: the rest continues after the header.
    const pv = readPhysicalVolume(memoryDisk(writePv({ text, mdaSize, textOffset: mdaSize - 100 })))!;
    expect(pv.metadataAreas[0]).toMatchObject({ wrapped: true, error: null, seqno: 7 });
    expect(pv.volumeGroup!.logicalVolumes.map((lv) => lv.name)).toEqual(['lv0', 'lv1', 'lv2']);
  });

  it('reports a damaged area instead of throwing, and an empty one as empty', () => {
    const image = writePv({ text: vgText('vg', 1) });
    image[4096 + 512 + 10] = image[4096 + 512 + 10]! ^ 0x20;
    const pv = readPhysicalVolume(memoryDisk(image))!;
    expect(pv.volumeGroup).toBeNull();
    expect(pv.metadataAreas[0]!.error).toBe('metadata area at byte 4096: metadata text checksum is wrong');
    const orphan = readPhysicalVolume(memoryDisk(writePv({ text: null })))!;
    expect(orphan.metadataAreas[0]).toMatchObject({ empty: true, error: null });
    expect(orphan.volumeGroup).toBeNull();
  });

  it('refuses a text larger than the limit without reading it', () => {
    const image = writePv({ text: vgText('vg', 20) });
    const reads: number[] = [];
    const disk = memoryDisk(image);
    const counting = {
      ...disk,
      readAt: (offset: number, length: number) => {
        reads.push(length);
        return disk.readAt(offset, length);
      },
    };
    const pv = readPhysicalVolume(counting, { ...DEFAULT_LVM_LIMITS, maxTextBytes: 1000 })!;
    expect(pv.metadataAreas[0]!.error).toMatch(/metadata text of \d+ bytes is larger than 1000/);
    expect(Math.max(...reads)).toBeLessThanOrEqual(2048);
  });

  it('refuses a location outside the area and a header that names another start', () => {
    const image = writePv({ text: vgText('vg', 1), mdaSize: 8192 });
    const view = new DataView(image.buffer);
    view.setBigUint64(4096 + 40, 9000n, true);
    view.setUint32(4096, lvmCrc(image.subarray(4100, 4608)), true);
    expect(readPhysicalVolume(memoryDisk(image))!.metadataAreas[0]!.error).toBe(
      'metadata area at byte 4096: metadata location 9000+' +
        view.getBigUint64(4096 + 48, true) +
        ' lies outside the area',
    );
    view.setBigUint64(4096 + 24, 8192n, true);
    view.setUint32(4096, lvmCrc(image.subarray(4100, 4608)), true);
    expect(readPhysicalVolume(memoryDisk(image))!.metadataAreas[0]!.error).toBe(
      'metadata area at byte 4096: header says it starts at byte 8192',
    );
  });
});

describe('metadata text syntax', () => {
  it('reads sections, values, arrays, escapes, comments and bare words as libdm does', () => {
    const root = parseConfigText(
      [
        'a = 1 # comment',
        'b = -20',
        'c = 1.5',
        'd = "say \\"hi\\" \\\\ \\n"',
        "e = 'single \\ quoted'",
        'f = [ "x", 2, ]',
        'g = []',
        'h = bare-word',
        'i = "not # a comment"',
        's { t { u = "deep" } }',
        's { v = 3 }',
        '123 { key-with.dots+plus = 0 }',
        '"quoted name" { w = 1 }',
        'a = 2',
      ].join('\n'),
    );
    expect(Object.fromEntries(root.values)).toEqual({
      a: 2,
      b: -20,
      c: 1.5,
      d: 'say "hi" \\ \\n',
      e: 'single \\ quoted',
      f: ['x', 2],
      g: [],
      h: 'bare-word',
      i: 'not # a comment',
    });
    const s = root.sections.get('s')!;
    expect(s.sections.get('t')!.values.get('u')).toBe('deep');
    expect(s.values.get('v')).toBe(3);
    expect(root.sections.get('123')!.values.get('key-with.dots+plus')).toBe(0);
    expect(root.sections.get('quoted name')!.values.get('w')).toBe(1);
  });

  it('stops at a NUL, as lvm2 does after the text', () => {
    expect(Object.fromEntries(parseConfigText('a = 1\0garbage {').values)).toEqual({ a: 1 });
  });

  it('names the line of a syntax error', () => {
    expect(errorOf(() => parseConfigText('a = 1\nb 2'))).toBe(
      'metadata text line 2: expected "=" or "{" after "b", found "2"',
    );
    expect(errorOf(() => parseConfigText('a {\n b = 1\n'))).toBe(
      'metadata text line 3: section opened on line 1 is not closed',
    );
    expect(errorOf(() => parseConfigText('a = "open'))).toBe('metadata text line 1: string is not closed');
    expect(errorOf(() => parseConfigText('a = ]'))).toBe('metadata text line 1: expected a value, found "]"');
    expect(errorOf(() => parseConfigText('}'))).toBe('metadata text line 1: "}" without a section to close');
    expect(errorOf(() => parseConfigText('a = 99999999999999999999'))).toMatch(
      /integer 99999999999999999999 is out of range/,
    );
    expect(errorOf(() => parseConfigText('a = [1, 2'))).toBe('metadata text line 1: array is not closed');
  });

  it('caps nesting, entries and array length', () => {
    const limits = { ...DEFAULT_LVM_LIMITS, maxDepth: 3, maxNodes: 10, maxArrayItems: 4 };
    expect(errorOf(() => parseConfigText('a { b { c { d { } } } }', limits))).toMatch(/nested deeper than 3/);
    expect(errorOf(() => parseConfigText('a = [1, 2, 3, 4, 5]', limits))).toMatch(
      /array of more than 4 items/,
    );
    expect(errorOf(() => parseConfigText('a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9 j=10 k=11', limits))).toMatch(
      /more than 10 entries/,
    );
    // The default depth cap holds even for a text that is nothing but openings.
    expect(errorOf(() => parseConfigText('a {'.repeat(100_000)))).toMatch(/nested deeper than 16/);
  });

  it('keeps keys such as __proto__ as plain data', () => {
    const vg = parseVolumeGroupMetadata(
      vgText('vg', 1).replace('type = "striped"', 'type = "thin"\n__proto__ = "x"\nconstructor { a = 1 }'),
    );
    const raw = vg.logicalVolumes[0]!.segments[0]!;
    expect(raw.kind === 'thin' && Object.keys(raw.raw)).toContain('__proto__');
    expect(({} as Record<string, unknown>).a).toBeUndefined();
  });
});

describe('volume group metadata', () => {
  it('reads VG, PVs, LVs and segments into typed data', () => {
    const vg = parseVolumeGroupMetadata(vgText('my-vg', 2, 3, 100));
    expect(vg).toMatchObject({
      name: 'my-vg',
      id: 'vgvgvg-bbbb-cccc-dddd-eeee-ffff-gggggg',
      seqno: 7,
      extentSize: 8192,
      extentCount: 100,
      freeExtents: 94,
      status: ['RESIZEABLE', 'READ', 'WRITE'],
      creationHost: 'host',
      creationTime: 1700000000,
      description: '',
    });
    expect(vg.physicalVolumes).toEqual([
      {
        name: 'pv0',
        id: 'abcdef-ghij-klmn-opqr-stuv-wxyz-012345',
        deviceHint: '/dev/sda2',
        status: ['ALLOCATABLE'],
        flags: [],
        tags: [],
        devSize: 8388608,
        peStart: 2048,
        peCount: 100,
      },
    ]);
    expect(vg.logicalVolumes[1]).toMatchObject({
      name: 'lv1',
      visible: true,
      extentCount: 3,
      segments: [
        {
          name: 'segment1',
          kind: 'striped',
          type: 'striped',
          startExtent: 0,
          extentCount: 3,
          stripeSize: null,
          areaExtents: 3,
          stripes: [{ volume: 'pv0', onPv: true, extent: 3 }],
        },
      ],
    });
    expect(mapLogicalVolume(vg, 'lv1')).toEqual({
      ok: true,
      map: {
        vgName: 'my-vg',
        lvName: 'lv1',
        sectors: 3 * 8192,
        targets: [
          {
            kind: 'linear',
            start: 0,
            length: 3 * 8192,
            pv: 'pv0',
            pvId: 'abcdef-ghij-klmn-opqr-stuv-wxyz-012345',
            offset: 2048 + 3 * 8192,
          },
        ],
      },
    });
  });

  it('recognises the other segment types by name and keeps lvm2 flags off the type', () => {
    const types = [
      'raid1+RAID_FLAG',
      'mirror',
      'snapshot',
      'cache',
      'cache-pool',
      'vdo',
      'vdo-pool',
      'writecache',
      'integrity',
      'error',
      'zero',
      'thin',
      'something-new',
    ];
    const kinds = types.map((type) => {
      const seg = parseVolumeGroupMetadata(vgText('vg', 1).replace('type = "striped"', `type = "${type}"`))
        .logicalVolumes[0]!.segments[0]!;
      return [seg.type, seg.kind];
    });
    expect(kinds).toEqual([
      ['raid1', 'raid'],
      ['mirror', 'mirror'],
      ['snapshot', 'snapshot'],
      ['cache', 'cache'],
      ['cache-pool', 'cache-pool'],
      ['vdo', 'vdo'],
      ['vdo-pool', 'vdo-pool'],
      ['writecache', 'writecache'],
      ['integrity', 'integrity'],
      ['error', 'error'],
      ['zero', 'zero'],
      ['thin', 'thin'],
      ['something-new', 'unknown'],
    ]);
  });

  it('names what is wrong: gaps, counts, stripes past a PV, unknown volumes, missing fields', () => {
    const base = vgText('vg', 2, 2, 10);
    const cases: [string, string, RegExp][] = [
      ['start_extent = 0', 'start_extent = 1', /logical volume lv0: a gap at extent 0 before segment1/],
      ['segment_count = 1', 'segment_count = 2', /lv0: segment_count is 2 but 1 segments are written/],
      ['"pv0", 0', '"pv0", 9', /lv0: segment1: stripe on pv0 extents 9-10 lie past its 10 extents/],
      ['"pv0", 0', '"pv7", 0', /lv0: segment1: stripe on unknown volume "pv7"/],
      ['stripe_count = 1', 'stripe_count = 2', /lv0: segment1: no stripe_size/],
      ['extent_size = 8192', 'extent_size = 0', /extent_size = 0 is not a whole number from 1/],
      ['pe_start = 2048', 'pe_begin = 2048', /physical volume pv0: no pe_start/],
      [
        'contents = "Text Format Volume Group"',
        'contents = "x"',
        /contents is not "Text Format Volume Group"/,
      ],
      ['version = 1', 'version = 2', /unknown format version/],
      ['extent_count = 2', 'extent_count = "2"', /extent_count = "2" is not a whole number/],
      ['pe_count = 10', 'pe_count = 3', /lie past its 3 extents/],
    ];
    for (const [from, to, message] of cases) {
      expect(errorOf(() => parseVolumeGroupMetadata(base.replace(from, to)))).toMatch(message);
    }
  });

  it('merges segments that continue each other into one target, as lvm2 does', () => {
    const text = vgText('vg', 1, 4).replace(
      /segment_count = 1[\s\S]*?\n}\n}/,
      `segment_count = 2
segment1 { start_extent = 0 extent_count = 2 type = "striped" stripe_count = 1 stripes = ["pv0", 10] }
segment2 { start_extent = 2 extent_count = 2 type = "striped" stripe_count = 1 stripes = ["pv0", 12] }
}`,
    );
    const mapped = mapLogicalVolume(parseVolumeGroupMetadata(text), 'lv0');
    expect(mapped.ok && mapped.map.targets).toEqual([
      {
        kind: 'linear',
        start: 0,
        length: 4 * 8192,
        pv: 'pv0',
        pvId: 'abcdef-ghij-klmn-opqr-stuv-wxyz-012345',
        offset: 2048 + 10 * 8192,
      },
    ]);
  });
});
