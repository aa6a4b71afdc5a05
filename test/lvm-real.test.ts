/**
 * The LVM reader against metadata written by real lvm2 on loop devices (no device-mapper: lvm2
 * runs with --driverloaded n). Every VG is compared field by field with lvm2's own reports
 * (pvs/vgs/lvs in sectors): UUIDs, pe_start, device sizes, extent size and counts, seqno, each
 * segment's type, stripes and PE ranges. Bytes are checked through the reader's LV view: files
 * written into an LV's extents where lvm2 says they are are read back by debugfs from what the
 * view returns.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AssembledVolumeGroup,
  assembleVolumeGroups,
  type LvmAssembly,
  mapLogicalVolume,
  openLogicalVolume,
  type PvCandidate,
  readPhysicalVolume,
} from '../src/engine/lvm/index.js';
import type { Disk } from '../src/io/disk.js';
import { openFileDisk } from '../src/io/file-disk.js';
import { probeContent } from '../src/probe/index.js';
import { expectMatchesReports, LVS_FIELDS, type Lvm2Reports, PVS_FIELDS, VGS_FIELDS } from './lvm-compare.js';
import {
  canUseLvm2,
  type Lvm2Sandbox,
  lvm2Sandbox,
  lvm2SkipReason,
  sparseImage,
  withLoops,
} from './lvm2-helpers.js';

const MiB = 1024 * 1024;

/** Read every image as a PV and assemble; the disks stay open until the test ends. */
function readImages(images: readonly string[]): LvmAssembly & { disks: Disk[] } {
  const candidates: PvCandidate[] = [];
  const disks: Disk[] = [];
  for (const image of images) {
    const disk = openFileDisk(image, Math.floor(readFileSync(image).length / 512) * 512, 512);
    opened.push(disk);
    disks.push(disk);
    const pv = readPhysicalVolume(disk);
    if (pv) candidates.push({ source: image, disk, pv });
  }
  return { ...assembleVolumeGroups(candidates), disks };
}
const opened: { close(): void }[] = [];

function groupNamed(assembly: LvmAssembly, name: string): AssembledVolumeGroup {
  const found = assembly.volumeGroups.filter((g) => g.metadata.name === name);
  expect(found, `VG ${name}`).toHaveLength(1);
  return found[0]!;
}

/** lvm2's live reports over `loops`, as the fixtures record them. */
function liveReports(lvm: Lvm2Sandbox, loops: string[]): Lvm2Reports {
  return {
    pvs: lvm.report('pvs', PVS_FIELDS, [], loops),
    vgs: lvm.report('vgs', VGS_FIELDS, [], loops),
    lvs: lvm.report('lvs', LVS_FIELDS, ['-a', '--segments'], loops),
  };
}

const expectMatchesLvm2 = (lvm: Lvm2Sandbox, loops: string[], group: AssembledVolumeGroup) =>
  expectMatchesReports(group, liveReports(lvm, loops));

/** Lay `content` into the image's extents of an LV, at the PV ranges lvm2 reports for it. */
function writeThroughLvm2Ranges(
  lvm: Lvm2Sandbox,
  loops: string[],
  images: string[],
  lv: string,
  content: Buffer,
) {
  const pvRows = lvm.report('pvs', 'pv_name,pe_start', [], loops);
  const [vgName] = lv.split('/');
  const [vgRow] = lvm.report('vgs', 'vg_extent_size', [vgName!], loops);
  const extent = Number(vgRow!.vg_extent_size) * 512;
  const rows = lvm.report('lvs', 'seg_start_pe,seg_size_pe,seg_pe_ranges,stripes', ['--segments', lv], loops);
  for (const row of rows) {
    expect(row.stripes).toBe('1');
    const [, device, first] = /^(.*):(\d+)-\d+$/.exec(row.seg_pe_ranges!)!;
    const image = images[loops.indexOf(device!)]!;
    const peStart = Number(pvRows.find((r) => r.pv_name === device)!.pe_start) * 512;
    const from = Number(row.seg_start_pe) * extent;
    const fd = openSync(image, 'r+');
    try {
      writeSync(fd, content, from, Number(row.seg_size_pe) * extent, peStart + Number(first) * extent);
    } finally {
      closeSync(fd);
    }
  }
}

/** An ext4 image of `bytes` holding /hello.txt, made by mkfs.ext4 -d. */
function ext4WithHello(dir: string, bytes: number, text: string): Buffer {
  const content = join(dir, `content-${bytes}`);
  mkdirSync(content, { recursive: true });
  writeFileSync(join(content, 'hello.txt'), text);
  const file = join(dir, `fs-${bytes}.img`);
  execFileSync('truncate', ['-s', String(bytes), file]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, file]);
  return readFileSync(file);
}

/** /hello.txt as debugfs reads it from the bytes `disk` returns (dumped to a file). */
function helloThrough(dir: string, disk: Disk): string {
  const file = join(dir, 'through-view.img');
  const fd = openSync(file, 'w');
  try {
    for (let at = 0; at < disk.size; at += MiB) writeSync(fd, disk.readAt(at, MiB));
  } finally {
    closeSync(fd);
  }
  return execFileSync('debugfs', ['-R', 'cat /hello.txt', file], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

describe.skipIf(!canUseLvm2)(
  `LVM metadata written by lvm2 (${lvm2SkipReason.replace('; skipped', '')}; skipped otherwise)`,
  () => {
    let lvm: Lvm2Sandbox;
    beforeAll(() => {
      lvm = lvm2Sandbox();
    });
    afterAll(() => {
      for (const disk of opened.splice(0)) disk.close();
      lvm?.cleanup();
    });

    it('linear LVs with dashed names, one of two non-adjacent segments, and two metadata copies', () => {
      const image = sparseImage(lvm.dir, 'linear.img', 64);
      withLoops([image], (loops) => {
        const run = (cmd: string, ...args: string[]) => lvm.run(cmd, args, loops);
        run('pvcreate', '-q', '--pvmetadatacopies', '2', loops[0]!);
        run('vgcreate', '-q', '-s', '4m', 'kpt-vg-linear', loops[0]!);
        run('lvcreate', '-q', '-an', '-Zn', '-L', '8m', '-n', 'root-lv', 'kpt-vg-linear');
        run('lvcreate', '-q', '-an', '-Zn', '-L', '4m', '-n', 'swap-1', 'kpt-vg-linear');
        run('lvcreate', '-q', '-an', '-Zn', '-L', '4m', '-n', 'home', 'kpt-vg-linear');
        run('lvextend', '-q', '-L', '16m', 'kpt-vg-linear/root-lv');

        const assembly = readImages([image]);
        const group = groupNamed(assembly, 'kpt-vg-linear');
        expect(group.missing).toEqual([]);
        expect(group.warnings).toEqual([]);
        const pv = group.members[0]!.found!.pv;
        expect(pv.metadataAreas).toHaveLength(2);
        expect(pv.metadataAreas.map((a) => a.seqno)).toEqual([group.metadata.seqno, group.metadata.seqno]);
        const root = group.metadata.logicalVolumes.find((lv) => lv.name === 'root-lv')!;
        expect(root.segments.map((s) => [s.startExtent, s.extentCount])).toEqual([
          [0, 2],
          [2, 2],
        ]);
        expectMatchesLvm2(lvm, loops, group);

        // A file system laid into the two segments where lvm2 says they are reads back whole.
        const fs = ext4WithHello(lvm.dir, 16 * MiB, 'two segments\n');
        writeThroughLvm2Ranges(lvm, loops, [image], 'kpt-vg-linear/root-lv', fs);
        const opened = openLogicalVolume(group, 'root-lv');
        expect(opened.ok).toBe(true);
        if (!opened.ok) return;
        expect(opened.map.targets).toHaveLength(2);
        expect(probeContent(opened.disk, 0, opened.disk.size)?.type).toBe('ext4');
        expect(helloThrough(lvm.dir, opened.disk)).toBe('two segments\n');
      });
    });

    it('an LV striped over two PVs, a linear LV beside it, and what is left when one PV is missing', () => {
      const images = [sparseImage(lvm.dir, 'stripe-a.img', 32), sparseImage(lvm.dir, 'stripe-b.img', 32)];
      withLoops(images, (loops) => {
        const run = (cmd: string, ...args: string[]) => lvm.run(cmd, args, loops);
        run('pvcreate', '-q', ...loops);
        run('vgcreate', '-q', 'kpt-vg-stripe', ...loops);
        run(
          'lvcreate',
          '-q',
          '-an',
          '-Zn',
          '-i',
          '2',
          '-I',
          '64k',
          '-L',
          '16m',
          '-n',
          'striped-lv',
          'kpt-vg-stripe',
        );
        run('lvcreate', '-q', '-an', '-Zn', '-L', '4m', '-n', 'plain', 'kpt-vg-stripe', loops[0]!);

        const group = groupNamed(readImages(images), 'kpt-vg-stripe');
        expect(group.missing).toEqual([]);
        expectMatchesLvm2(lvm, loops, group);
        const mapped = mapLogicalVolume(group.metadata, 'striped-lv');
        expect(mapped.ok && mapped.map.targets.map((t) => t.kind)).toEqual(['striped']);
        expect(
          mapped.ok && mapped.map.targets[0]!.kind === 'striped' && mapped.map.targets[0]!.chunkSize,
        ).toBe(128);

        // Only the first image given: the second PV is named, with the device lvm2 last saw it on.
        const partial = groupNamed(readImages([images[0]!]), 'kpt-vg-stripe');
        const second = group.members.find((m) => m.found?.source === images[1])!.metadata;
        expect(partial.missing).toEqual([{ name: second.name, id: second.id, deviceHint: loops[1] }]);
        expect(partial.warnings.join('\n')).toContain(
          `PV ${second.name} (UUID ${second.id}, last seen on ${loops[1]}) is missing`,
        );
        const striped = openLogicalVolume(partial, 'striped-lv');
        expect(striped.ok).toBe(false);
        expect(!striped.ok && striped.reason).toContain(`needs PV ${second.name} (UUID ${second.id}`);
        // The linear LV lies wholly on the PV that is there, and stays readable.
        expect(openLogicalVolume(partial, 'plain').ok).toBe(true);
      });
    });

    it('a file system written through an offset loop over an LV reads back through the LV view', () => {
      const image = sparseImage(lvm.dir, 'offset.img', 48);
      withLoops([image], (loops) => {
        const run = (cmd: string, ...args: string[]) => lvm.run(cmd, args, loops);
        run('pvcreate', '-q', loops[0]!);
        run('vgcreate', '-q', 'kpt-vg-offset', loops[0]!);
        run('lvcreate', '-q', '-an', '-Zn', '-L', '4m', '-n', 'first', 'kpt-vg-offset');
        run('lvcreate', '-q', '-an', '-Zn', '-L', '12m', '-n', 'data', 'kpt-vg-offset');
        const [pv] = lvm.report('pvs', 'pe_start', [], loops);
        const [vg] = lvm.report('vgs', 'vg_extent_size', ['kpt-vg-offset'], loops);
        const [seg] = lvm.report(
          'lvs',
          'seg_pe_ranges,seg_size_pe',
          ['--segments', 'kpt-vg-offset/data'],
          loops,
        );
        const first = Number(/:(\d+)-/.exec(seg!.seg_pe_ranges!)![1]);
        const offset = (Number(pv!.pe_start) + first * Number(vg!.vg_extent_size)) * 512;
        const size = Number(seg!.seg_size_pe) * Number(vg!.vg_extent_size) * 512;
        const content = join(lvm.dir, 'offset-content');
        mkdirSync(content, { recursive: true });
        writeFileSync(join(content, 'hello.txt'), 'through an offset loop\n');
        const uuid = withLoops(
          [image],
          ([lvLoop]) => {
            execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, lvLoop!]);
            return execFileSync('blkid', ['-p', '-o', 'value', '-s', 'UUID', lvLoop!], {
              encoding: 'utf8',
            }).trim();
          },
          ['-o', String(offset), '--sizelimit', String(size)],
        );

        const group = groupNamed(readImages([image]), 'kpt-vg-offset');
        expectMatchesLvm2(lvm, loops, group);
        const lv = openLogicalVolume(group, 'data');
        expect(lv.ok).toBe(true);
        if (!lv.ok) return;
        expect(lv.map.targets).toEqual([
          {
            kind: 'linear',
            start: 0,
            length: size / 512,
            pv: 'pv0',
            pvId: group.metadata.physicalVolumes[0]!.id,
            offset: offset / 512,
          },
        ]);
        expect(lv.disk.size).toBe(size);
        expect(probeContent(lv.disk, 0, lv.disk.size)).toMatchObject({ type: 'ext4', uuid });
        expect(helloThrough(lvm.dir, lv.disk)).toBe('through an offset loop\n');
      });
    });

    it('a thin pool and a thin LV are listed with their hidden sub-volumes, and not mapped', () => {
      const image = sparseImage(lvm.dir, 'thin.img', 64);
      withLoops([image], (loops) => {
        const run = (cmd: string, ...args: string[]) => lvm.run(cmd, args, loops);
        run('pvcreate', '-q', loops[0]!);
        run('vgcreate', '-q', 'kpt-vg-thin', loops[0]!);
        run('lvcreate', '-q', '-an', '-Zn', '-L', '8m', '-n', 'pool', 'kpt-vg-thin');
        run('lvcreate', '-q', '-an', '-Zn', '-L', '4m', '-n', 'meta', 'kpt-vg-thin');
        // lvm2 builds a thin pool only with the thin-pool target loaded; restore the layout it writes.
        const backup = join(lvm.dir, 'thin-backup.txt');
        run('vgcfgbackup', '-q', '-f', backup, 'kpt-vg-thin');
        writeFileSync(backup, thinPoolLayout(readFileSync(backup, 'utf8')));
        run('vgcfgrestore', '-q', '--force', '-f', backup, 'kpt-vg-thin');

        const group = groupNamed(readImages([image]), 'kpt-vg-thin');
        expectMatchesLvm2(lvm, loops, group);
        const kinds = Object.fromEntries(
          group.metadata.logicalVolumes.map((lv) => [
            lv.name,
            [lv.visible, lv.segments.map((s) => s.kind).join()],
          ]),
        );
        expect(kinds).toEqual({
          pool: [true, 'thin-pool'],
          pool_tdata: [false, 'striped'],
          pool_tmeta: [false, 'striped'],
          thin1: [true, 'thin'],
        });
        const pool = group.metadata.logicalVolumes.find((lv) => lv.name === 'pool')!.segments[0]!;
        expect(pool.kind === 'thin-pool' && pool.raw).toMatchObject({
          pool: 'pool_tdata',
          metadata: 'pool_tmeta',
          chunk_size: 128,
        });
        for (const name of ['pool', 'thin1']) {
          const result = mapLogicalVolume(group.metadata, name);
          expect(!result.ok && result.reason).toMatch(
            /is a thin(-pool)? volume: only linear and striped volumes are mapped/,
          );
        }
      });
    });

    it('reads the current metadata after the circular buffer wrapped around', () => {
      const image = sparseImage(lvm.dir, 'wrap.img', 32);
      withLoops([image], (loops) => {
        const run = (cmd: string, ...args: string[]) => lvm.run(cmd, args, loops);
        // 32 KiB of metadata area (lvm2's least), not grown up to a 1 MiB-aligned pe_start.
        run('pvcreate', '-q', '--metadatasize', '32k', '--dataalignment', '4k', loops[0]!);
        run('vgcreate', '-q', '-s', '1m', 'kpt-vg-wrap', loops[0]!);
        for (let i = 0; i < 6; i++)
          run('lvcreate', '-q', '-an', '-Zn', '-L', '1m', '-n', `volume-${i}`, 'kpt-vg-wrap');
        const areaOf = () => readImages([image]).volumeGroups[0]!.members[0]!.found!.pv.metadataAreas[0]!;
        let renames = 0;
        while (!areaOf().wrapped && renames < 40) {
          run('lvrename', '-q', 'kpt-vg-wrap', `volume-${renames % 8}`, `renamed-${renames}`);
          run('lvrename', '-q', 'kpt-vg-wrap', `renamed-${renames}`, `volume-${renames % 8}`);
          renames++;
        }
        expect(areaOf().wrapped).toBe(true);
        expectMatchesLvm2(lvm, loops, groupNamed(readImages([image]), 'kpt-vg-wrap'));
        run('lvextend', '-q', '-L', '+1m', 'kpt-vg-wrap/volume-2');
        const group = groupNamed(readImages([image]), 'kpt-vg-wrap');
        expectMatchesLvm2(lvm, loops, group);
      });
    });

    it('keeps two VGs of one name apart (two images made on different hosts)', () => {
      const images = [sparseImage(lvm.dir, 'same-a.img', 16), sparseImage(lvm.dir, 'same-b.img', 16)];
      for (const image of images) {
        withLoops([image], (loops) => {
          lvm.run('pvcreate', ['-q', loops[0]!], loops);
          lvm.run('vgcreate', ['-q', 'kpt-vg-same', loops[0]!], loops);
          lvm.run('lvcreate', ['-q', '-an', '-Zn', '-L', '4m', '-n', 'root', 'kpt-vg-same'], loops);
        });
      }
      const assembly = readImages(images);
      expect(assembly.volumeGroups.map((g) => [g.metadata.name, g.members[0]!.found!.source])).toEqual([
        ['kpt-vg-same', images[0]],
        ['kpt-vg-same', images[1]],
      ]);
      expect(assembly.volumeGroups[0]!.metadata.id).not.toBe(assembly.volumeGroups[1]!.metadata.id);
      expect(assembly.volumeGroups.every((g) => g.missing.length === 0)).toBe(true);
    });

    it('falls back to the second metadata copy when the first is damaged', () => {
      const image = sparseImage(lvm.dir, 'copies.img', 32);
      withLoops([image], (loops) => {
        lvm.run('pvcreate', ['-q', '--pvmetadatacopies', '2', loops[0]!], loops);
        lvm.run('vgcreate', ['-q', 'kpt-vg-copies', loops[0]!], loops);
        lvm.run('lvcreate', ['-q', '-an', '-Zn', '-L', '4m', '-n', 'root', 'kpt-vg-copies'], loops);
      });
      const before = readImages([image]).volumeGroups[0]!.members[0]!.found!.pv;
      // Flip one byte of the first copy's text (its location is in the first area's header).
      const area = before.metadataAreas[0]!.area;
      const bytes = readFileSync(image);
      const textOffset = area.offset + Number(bytes.readBigUInt64LE(area.offset + 40));
      const fd = openSync(image, 'r+');
      writeSync(fd, Buffer.from([bytes[textOffset + 20]! ^ 0x20]), 0, 1, textOffset + 20);
      closeSync(fd);

      const pv = readImages([image]).volumeGroups[0]!.members[0]!.found!.pv;
      expect(pv.metadataAreas[0]!.error).toMatch(/metadata text checksum is wrong/);
      expect(pv.metadataAreas[1]!.seqno).toBe(before.volumeGroup!.seqno);
      expect(pv.volumeGroup).toEqual(before.volumeGroup);
      expect(pv.warnings.join('\n')).toContain(
        `metadata area at byte ${area.offset}: metadata text checksum is wrong`,
      );
    });
  },
);

let uuidCounter = 0;
/** An LVM-style UUID (32 characters in 6-4-4-4-4-4-6) unique within the run. */
function lvmUuid(): string {
  const id = `kptThinTest${String(uuidCounter++).padStart(21, '0')}`;
  return [6, 4, 4, 4, 4, 4, 6]
    .reduce<{ parts: string[]; at: number }>(
      (acc, n) => ({ parts: [...acc.parts, id.slice(acc.at, acc.at + n)], at: acc.at + n }),
      { parts: [], at: 0 },
    )
    .parts.join('-');
}

/**
 * A vgcfgbackup text with LVs `pool` and `meta` turned into the layout lvm2 writes for a thin
 * pool: hidden `pool_tdata` and `pool_tmeta`, the visible `pool` of type thin-pool, and a thin LV.
 */
function thinPoolLayout(text: string): string {
  const hide = (name: string, as: string) =>
    text.replace(
      new RegExp(`(\\n\\s*)${name} \\{(\\s*id = "[^"]+"\\s*status = \\["READ", "WRITE"), "VISIBLE"\\]`),
      `$1${as} {$2]`,
    );
  text = hide('pool', 'pool_tdata');
  text = hide('meta', 'pool_tmeta');
  const volumes = `
pool {
id = "${lvmUuid()}"
status = ["READ", "WRITE", "VISIBLE"]
flags = []
segment_count = 1
segment1 {
start_extent = 0
extent_count = 2
type = "thin-pool"
metadata = "pool_tmeta"
pool = "pool_tdata"
transaction_id = 1
chunk_size = 128
discards = "passdown"
zero_new_blocks = 1
}
}
thin1 {
id = "${lvmUuid()}"
status = ["READ", "WRITE", "VISIBLE"]
flags = []
segment_count = 1
segment1 {
start_extent = 0
extent_count = 5
type = "thin"
thin_pool = "pool"
transaction_id = 0
device_id = 1
}
}
`;
  return text.replace(/(\n\s*logical_volumes \{\n)/, `$1${volumes}`);
}
