/**
 * The LVM layer of the storage stack on images lvm2 made (fixtures/make-lvm.sh): whole-disk PVs,
 * a VG with one of its two PVs given (the other named as missing), a thin pool listed with the
 * lvm2 command that activates it, and a striped LV that needs device-mapper.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectSource } from '../src/engine/inspect.js';
import { readLvmLayers } from '../src/engine/stack/index.js';
import { FakeMachine } from './support/fake-machine.js';
import { loadXzImage, REPO } from './support/images.js';
import { memoryDisk } from './support/memory-disk.js';

const fixture = (name: string) => loadXzImage(join(REPO, 'fixtures', 'lvm', `${name}.img.xz`));
/** What lvm2 reported for a fixture set (pvs/vgs/lvs rows of strings). */
type Rows = Record<string, string>[];
const lvm2 = (set: string) =>
  JSON.parse(readFileSync(join(REPO, 'fixtures', 'lvm', `${set}.lvm2.json`), 'utf8')) as {
    pvs: Rows;
    vgs: Rows;
    lvs: Rows;
  };
const wholeDisk = (bytes: Uint8Array) => [
  { partition: null, extent: { start: 0, size: bytes.length / 512 } },
];

describe('LVM as a layer of the stack', () => {
  it('lists a whole-disk PV image: the VG, and each LV with size, type, content and how it attaches', () => {
    const kernel = new FakeMachine();
    kernel.addFile('/img/linear.img', fixture('linear'));
    const report = inspectSource('/img/linear.img', kernel);
    expect(report.error).toBeNull();
    expect(report.table).toBeNull();
    expect(report.content?.type).toBe('LVM2_member');
    const recorded = lvm2('linear');
    expect(report.volumeGroups.map((vg) => vg.name)).toEqual(recorded.vgs.map((vg) => vg.vg_name));
    const [vg] = report.volumeGroups;
    expect(vg!.physicalVolumes.map((pv) => pv.partition)).toEqual([null]);
    // lvs lists a two-segment LV once per segment.
    const names = [...new Set(recorded.lvs.map((lv) => lv.lv_name!))];
    expect(vg!.logicalVolumes.map((lv) => lv.name).sort()).toEqual(names.sort());
    const twoSegments = vg!.logicalVolumes.find((lv) => lv.segments === 2);
    expect(twoSegments?.attach).toMatchObject({ method: 'lv-linear-map', needs: 'device-mapper' });
    expect(report.stack?.children.map((n) => [n.layer, n.name])).toEqual([['volume-group', vg!.name]]);
  });

  it('names the PV that is missing and does not read LVs that need it', () => {
    const layers = readLvmLayers(
      memoryDisk(fixture('striped-a')),
      'striped-a.img',
      wholeDisk(fixture('striped-a')),
    );
    const [vg] = layers.volumeGroups;
    const recordedB = lvm2('striped').pvs.find((pv) => pv.pv_name === 'striped-b');
    expect(vg!.missing.map((pv) => pv.uuid)).toEqual([recordedB!.pv_uuid]);
    const stripes = vg!.logicalVolumes.find((lv) => lv.name === 'stripes')!;
    expect(stripes.segmentType).toBe('striped');
    expect(stripes.attach.method).toBe('none');
    expect(stripes.problem).toMatch(/missing/);
  });

  it('with both PVs, a striped LV maps only with device-mapper', () => {
    const a = fixture('striped-a');
    const b = fixture('striped-b');
    // Two images side by side on one disk, as two partitions would be.
    const both = new Uint8Array(a.length + b.length);
    both.set(a);
    both.set(b, a.length);
    const layers = readLvmLayers(memoryDisk(both), 'pair', [
      { partition: 1, extent: { start: 0, size: a.length / 512 } },
      { partition: 2, extent: { start: a.length / 512, size: b.length / 512 } },
    ]);
    const [vg] = layers.volumeGroups;
    expect(vg!.missing).toEqual([]);
    expect(vg!.physicalVolumes.map((pv) => pv.partition).sort()).toEqual([1, 2]);
    const stripes = vg!.logicalVolumes.find((lv) => lv.name === 'stripes')!;
    expect(stripes.attach).toMatchObject({ method: 'lv-striped-map', needs: 'device-mapper' });
    expect(stripes.targets[0]).toMatch(/^0 \d+ striped 2 128 /);
  });

  it('lists a thin pool and its thin LV as not mappable here, with the lvm2 command, and hides sub-volumes', () => {
    const layers = readLvmLayers(memoryDisk(fixture('thin')), 'thin.img', wholeDisk(fixture('thin')));
    const [vg] = layers.volumeGroups;
    expect(vg!.logicalVolumes.map((lv) => [lv.name, lv.segmentType])).toEqual([
      ['pool', 'thin-pool'],
      ['thin-1', 'thin'],
    ]);
    expect(vg!.logicalVolumes[0]!.attach.text).toBe(
      `not mappable: thin pool — use lvchange -ay ${vg!.name}/pool`,
    );
    expect(vg!.logicalVolumes[1]!.attach.text).toBe(
      `not mappable: thin volume — use lvchange -ay ${vg!.name}/thin-1`,
    );
  });
});
