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
import type { Disk } from '../src/engine/disk.js';
import { openFileDisk } from '../src/engine/file-disk.js';
import {
  type AssembledVolumeGroup,
  assembleVolumeGroups,
  type LvmAssembly,
  mapLogicalVolume,
  openLogicalVolume,
  type PvCandidate,
  readPhysicalVolume,
  uuidKey,
} from '../src/engine/lvm/index.js';
import { probeContent } from '../src/probe/index.js';
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

/**
 * Compare what the reader assembled for VG `vgName` with lvm2's reports over `loops`.
 * `loopImage` maps each loop to its image, so PV ranges (`/dev/loop3:0-1`) can be matched.
 */
function expectMatchesLvm2(lvm: Lvm2Sandbox, loops: string[], group: AssembledVolumeGroup) {
  const vg = group.metadata;
  const pvRows = lvm.report('pvs', 'pv_name,pv_uuid,pe_start,dev_size,pv_pe_count,vg_uuid', [], loops);
  const deviceOfPv = new Map<string, string>();
  for (const row of pvRows.filter((r) => uuidKey(r.vg_uuid!) === uuidKey(vg.id))) {
    const pv = vg.physicalVolumes.find((p) => uuidKey(p.id) === uuidKey(row.pv_uuid!));
    expect(pv, `PV ${row.pv_uuid}`).toBeDefined();
    expect({ peStart: pv!.peStart, devSize: pv!.devSize, peCount: pv!.peCount }).toEqual({
      peStart: Number(row.pe_start),
      devSize: Number(row.dev_size),
      peCount: Number(row.pv_pe_count),
    });
    const member = group.members.find((m) => m.metadata === pv);
    expect(member?.found?.pv.header.uuid).toBe(row.pv_uuid);
    deviceOfPv.set(pv!.name, row.pv_name!);
  }
  expect(deviceOfPv.size).toBe(vg.physicalVolumes.length);

  const [vgRow] = lvm.report(
    'vgs',
    'vg_name,vg_uuid,vg_extent_size,vg_extent_count,vg_free_count,vg_seqno,pv_count,lv_count',
    [vg.name],
    loops,
  );
  expect({
    name: vg.name,
    id: vg.id,
    extentSize: vg.extentSize,
    extents: vg.extentCount,
    free: vg.freeExtents,
    seqno: vg.seqno,
    pvs: vg.physicalVolumes.length,
    lvs: vg.logicalVolumes.filter((lv) => lv.visible).length,
  }).toEqual({
    name: vgRow!.vg_name,
    id: vgRow!.vg_uuid,
    extentSize: Number(vgRow!.vg_extent_size),
    extents: Number(vgRow!.vg_extent_count),
    free: Number(vgRow!.vg_free_count),
    seqno: Number(vgRow!.vg_seqno),
    pvs: Number(vgRow!.pv_count),
    lvs: Number(vgRow!.lv_count),
  });

  const segRows = lvm.report(
    'lvs',
    'lv_name,lv_uuid,segtype,stripes,stripe_size,seg_start_pe,seg_size_pe,seg_pe_ranges',
    ['-a', '--segments', vg.name],
    loops,
  );
  const theirs = segRows
    .map((r) => ({
      lv: r.lv_name!.replace(/^\[(.*)\]$/, '$1'),
      id: r.lv_uuid,
      type: r.segtype,
      start: Number(r.seg_start_pe),
      extents: Number(r.seg_size_pe),
      stripes: r.segtype === 'linear' || r.segtype === 'striped' ? Number(r.stripes) : null,
      stripeSize: r.segtype === 'striped' ? Number(r.stripe_size) : null,
      ranges: r.seg_pe_ranges,
    }))
    .sort((a, b) => a.lv.localeCompare(b.lv) || a.start - b.start);
  const ours = vg.logicalVolumes
    .flatMap((lv) =>
      lv.segments.map((seg) => ({
        lv: lv.name,
        id: lv.id,
        type: seg.kind === 'striped' ? (seg.stripes.length === 1 ? 'linear' : 'striped') : seg.type,
        start: seg.startExtent,
        extents: seg.extentCount,
        stripes: seg.kind === 'striped' ? seg.stripes.length : null,
        stripeSize: seg.kind === 'striped' ? seg.stripeSize : null,
        // lvm2 prints a PV range as its device, an LV range (thin pool data) as the LV's name.
        ranges:
          seg.kind === 'striped'
            ? seg.stripes
                .map(
                  (s) =>
                    `${s.onPv ? deviceOfPv.get(s.volume) : s.volume}:${s.extent}-${s.extent + seg.areaExtents - 1}`,
                )
                .join(' ')
            : segRows.find((r) => r.lv_name!.replace(/^\[(.*)\]$/, '$1') === lv.name)!.seg_pe_ranges,
      })),
    )
    .sort((a, b) => a.lv.localeCompare(b.lv) || a.start - b.start);
  expect(ours).toEqual(theirs);

  // Every linear or striped LV on PVs maps to the sectors lvm2's ranges give.
  const peStartOf = new Map(pvRows.map((r) => [r.pv_name!, Number(r.pe_start)]));
  for (const lv of vg.logicalVolumes) {
    const result = mapLogicalVolume(vg, lv.name);
    if (!lv.segments.every((s) => s.kind === 'striped' && s.stripes.every((st) => st.onPv))) {
      expect(result.ok, `${lv.name} is not mappable`).toBe(false);
      continue;
    }
    expect(result.ok).toBe(true);
    if (!result.ok) continue;
    const expected = theirs
      .filter((t) => t.lv === lv.name)
      .map((t) => {
        const places = t.ranges!.split(' ').map((range) => {
          const [, device, first] = /^(.*):(\d+)-\d+$/.exec(range)!;
          return peStartOf.get(device!)! + Number(first) * vg.extentSize;
        });
        return { start: t.start * vg.extentSize, length: t.extents * vg.extentSize, places };
      });
    const got = result.map.targets.map((t) => ({
      start: t.start,
      length: t.length,
      places: t.kind === 'linear' ? [t.offset] : t.stripes.map((s) => s.offset),
    }));
    expect(got).toEqual(expected);
  }
}

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
  },
);
