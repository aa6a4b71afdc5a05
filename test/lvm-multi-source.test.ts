/**
 * `kpartx-tui --json` with several images holding one VG: the VG is assembled across them, whole.
 * lvm2 (metadata only, --driverloaded n) makes a VG with one PV on each of two images, a linear LV
 * whose segments lie on both and an LV striped over both; ext4 file systems are laid into the LVs'
 * extents where lvm2's own reports say they are, so the content --json probes through the
 * assembled extents comes from lvm2's layout, not ours. Given one image only, the other PV is
 * named missing and the LVs that need it say so.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonDocument, jsonMain } from '../src/cli/json.js';
import type { SourceReport } from '../src/engine/inspect.js';
import type { VolumeGroupLayer } from '../src/engine/stack/index.js';
import {
  canUseLvm2,
  type Lvm2Sandbox,
  lvm2Sandbox,
  lvm2SkipReason,
  sparseImage,
  withLoops,
} from './lvm2-helpers.js';

const MiB = 1024 * 1024;
const VG = 'kpt-multi';

async function inspect(...images: string[]): Promise<{ status: number; sources: SourceReport[] }> {
  let out = '';
  const status = await jsonMain(['--json', ...images], {
    stdout: (text) => {
      out += text;
    },
    stderr: () => {},
  });
  return { status, sources: (JSON.parse(out) as JsonDocument).sources };
}

/** An ext4 of `bytes` labelled `label`, made by mkfs.ext4; its bytes and UUID. */
function ext4(dir: string, label: string, bytes: number): { data: Buffer; uuid: string } {
  const file = join(dir, `${label}.fs`);
  execFileSync('truncate', ['-s', String(bytes), file]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', label, file]);
  const uuid = execFileSync('blkid', ['-p', '-o', 'value', '-s', 'UUID', file], { encoding: 'utf8' }).trim();
  return { data: readFileSync(file), uuid };
}

function writeAt(image: string, data: Uint8Array, at: number) {
  const fd = openSync(image, 'r+');
  try {
    writeSync(fd, data, 0, data.length, at);
  } finally {
    closeSync(fd);
  }
}

/**
 * Lay `data` into LV `lv`'s extents, segment by segment and (for a striped segment) chunk by
 * chunk, at the PV places lvm2 reports: `/dev/loopA:0-1 /dev/loopB:0-1`, stripe_size in sectors.
 */
function writeIntoLv(lvm: Lvm2Sandbox, loops: string[], images: string[], lv: string, data: Buffer) {
  const peStart = new Map(lvm.report('pvs', 'pv_name,pe_start', [], loops).map((r) => [r.pv_name!, r]));
  const [vg] = lvm.report('vgs', 'vg_extent_size', [VG], loops);
  const extent = Number(vg!.vg_extent_size) * 512;
  const rows = lvm.report(
    'lvs',
    'seg_start_pe,seg_size_pe,seg_pe_ranges,stripe_size',
    ['--segments', lv],
    loops,
  );
  for (const row of rows) {
    const stripes = row.seg_pe_ranges!.split(' ').map((range) => {
      const [, device, first] = /^(.*):(\d+)-\d+$/.exec(range)!;
      const image = images[loops.indexOf(device!)]!;
      return { image, at: Number(peStart.get(device!)!.pe_start) * 512 + Number(first) * extent };
    });
    const from = Number(row.seg_start_pe) * extent;
    const length = Number(row.seg_size_pe) * extent;
    const chunk = stripes.length === 1 ? length : Number(row.stripe_size) * 512;
    for (let done = 0; done < length; done += chunk) {
      const index = done / chunk;
      const stripe = stripes[index % stripes.length]!;
      const row = Math.floor(index / stripes.length);
      writeAt(stripe.image, data.subarray(from + done, from + done + chunk), stripe.at + row * chunk);
    }
  }
}

const lvNamed = (vg: VolumeGroupLayer, name: string) => vg.logicalVolumes.find((lv) => lv.name === name)!;

describe.skipIf(!canUseLvm2)(
  `a VG over two images (${lvm2SkipReason.replace('; skipped', '')}; skipped otherwise)`,
  () => {
    let lvm: Lvm2Sandbox;
    let images: string[];
    let loops: string[];
    let span: { data: Buffer; uuid: string };
    let striped: { data: Buffer; uuid: string };
    let segments: Record<string, string>[];
    beforeAll(() => {
      lvm = lvm2Sandbox();
      images = [sparseImage(lvm.dir, 'a.img', 64), sparseImage(lvm.dir, 'b.img', 64)];
      withLoops(images, (attached) => {
        loops = attached;
        const run = (cmd: string, ...args: string[]) => lvm.run(cmd, args, attached);
        run('pvcreate', '-q', ...attached);
        run('vgcreate', '-q', VG, ...attached);
        run('lvcreate', '-q', '-an', '-Zn', '-i', '2', '-I', '64k', '-L', '16m', '-n', 'striped', VG);
        // More extents than the first PV has left: lvm2 puts the rest on the second.
        run('lvcreate', '-q', '-an', '-Zn', '-L', '80m', '-n', 'span', VG, attached[0]!, attached[1]!);
        segments = lvm.report('lvs', 'lv_name,seg_pe_ranges', ['--segments', VG], attached);
        span = ext4(lvm.dir, 'span-fs', 80 * MiB);
        striped = ext4(lvm.dir, 'striped-fs', 16 * MiB);
        writeIntoLv(lvm, attached, images, `${VG}/span`, span.data);
        writeIntoLv(lvm, attached, images, `${VG}/striped`, striped.data);
      });
    }, 120_000);
    afterAll(() => lvm?.cleanup());

    it('lvm2 laid the linear LV on both images and striped the other over both', () => {
      const spanRanges = segments
        .filter((s) => s.lv_name === 'span')
        .map((s) => s.seg_pe_ranges!.split(':')[0]);
      expect(new Set(spanRanges)).toEqual(new Set(loops));
      expect(segments.find((s) => s.lv_name === 'striped')!.seg_pe_ranges!.split(' ')).toHaveLength(2);
    });

    it('both images given: one complete VG under each, its LVs read through both images', async () => {
      const { status, sources } = await inspect(...images);
      expect(status).toBe(0);
      expect(sources).toHaveLength(2);
      const groups = sources.map((source) => source.volumeGroups.filter((vg) => vg.name === VG));
      expect(groups.map((g) => g.length)).toEqual([1, 1]);
      const [a, b] = groups.map((g) => g[0]!);
      expect(a).toEqual(b);
      expect(a!.missing).toEqual([]);
      expect(a!.warnings).toEqual([]);
      // Each PV names the image holding it (whole-disk PVs: no partition).
      expect(a!.physicalVolumes.map((pv) => [pv.source, pv.partition])).toEqual([
        [images[0], null],
        [images[1], null],
      ]);
      const spanLv = lvNamed(a!, 'span');
      expect(spanLv.problem).toBeNull();
      expect(spanLv.segmentType).toBe('linear');
      expect(spanLv.content).toMatchObject({ type: 'ext4', uuid: span.uuid, label: 'span-fs' });
      const stripedLv = lvNamed(a!, 'striped');
      expect(stripedLv.segmentType).toBe('striped');
      expect(stripedLv.content).toMatchObject({ type: 'ext4', uuid: striped.uuid, label: 'striped-fs' });
      // The stack of each image holds the VG under that image's own PV.
      for (const source of sources) {
        const disk = source.stack!.children;
        expect(disk.map((n) => [n.layer, n.name])).toEqual([['volume-group', VG]]);
        expect(disk[0]!.children.find((n) => n.name === `${VG}/span`)!.content?.type).toBe('ext4');
      }
      expect(sources.flatMap((s) => s.warnings)).toEqual([]);
    });

    it('one image given: the VG names the other PV missing, and the LVs needing it say so', async () => {
      const { sources } = await inspect(images[0]!);
      const [vg] = sources[0]!.volumeGroups;
      expect(vg!.name).toBe(VG);
      // Output for one source is as before: PVs carry no source field.
      expect(vg!.physicalVolumes).toHaveLength(1);
      expect('source' in vg!.physicalVolumes[0]!).toBe(false);
      expect(vg!.missing).toHaveLength(1);
      expect(vg!.missing[0]!.lastSeenOn).toBe(loops[1]);
      expect(vg!.warnings.join('\n')).toContain(`last seen on ${loops[1]}) is missing`);
      for (const name of ['span', 'striped']) {
        const lv = lvNamed(vg!, name);
        expect(lv.content).toBeNull();
        expect(lv.problem).toContain(`last seen on ${loops[1]}), which is missing`);
      }
    });

    it('with another image that holds no PV of it, the PV is still named missing', async () => {
      const other = sparseImage(lvm.dir, 'empty.img', 8);
      const { sources } = await inspect(images[1]!, other);
      expect(sources[1]!.volumeGroups).toEqual([]);
      const [vg] = sources[0]!.volumeGroups;
      expect(vg!.physicalVolumes.map((pv) => pv.source)).toEqual([images[1]]);
      expect(vg!.missing.map((m) => m.lastSeenOn)).toEqual([loops[0]]);
    });
  },
);
