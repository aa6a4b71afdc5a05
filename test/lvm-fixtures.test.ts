/**
 * The LVM reader on images made by real lvm2 (fixtures/make-lvm.sh), compared with the reports
 * lvm2 gave for them when they were made. Needs no root: the images are read from memory.
 */
import { describe, expect, it } from 'vitest';
import {
  assembleVolumeGroups,
  lvDisk,
  mapLogicalVolume,
  openLogicalVolume,
  type PvCandidate,
  readPhysicalVolume,
} from '../src/engine/lvm/index.js';
import { expectMatchesReports } from './lvm-compare.js';
import {
  LVM_FIXTURE_SETS,
  type LvmFixtureSet,
  lvmFixtureImage,
  lvmFixtureReports,
} from './support/lvm-fixtures.js';
import { memoryDisk } from './support/memory-disk.js';

function candidates(names: readonly string[]): PvCandidate[] {
  return names.map((name) => {
    const disk = memoryDisk(lvmFixtureImage(name));
    const pv = readPhysicalVolume(disk);
    if (!pv) throw new Error(`${name}: no PV`);
    return { source: name, disk, pv };
  });
}

const assembled = (set: LvmFixtureSet) => {
  const assembly = assembleVolumeGroups(candidates(LVM_FIXTURE_SETS[set]));
  expect(assembly.volumeGroups).toHaveLength(1);
  expect(assembly.orphans).toEqual([]);
  expect(assembly.warnings).toEqual([]);
  return assembly.volumeGroups[0]!;
};

describe('LVM2 fixtures made by lvm2', () => {
  for (const set of Object.keys(LVM_FIXTURE_SETS) as LvmFixtureSet[]) {
    it(`${set}: matches what lvm2 reported`, () => {
      const group = assembled(set);
      expect(group.missing).toEqual([]);
      expect(group.warnings).toEqual([]);
      expectMatchesReports(group, lvmFixtureReports(set));
    });
  }

  it('linear: reads both metadata copies (start and end of the device) and the PV header', () => {
    const [candidate] = candidates(['linear']);
    const { pv, disk } = candidate!;
    expect(pv.labelSector).toBe(1);
    expect(pv.header.deviceSize).toBe(disk.size);
    expect(pv.header.dataAreas).toEqual([{ offset: 1024 * 1024, size: 0 }]);
    expect(pv.header.metadataAreas).toHaveLength(2);
    expect(pv.header.metadataAreas[0]!.offset).toBe(4096);
    const last = pv.header.metadataAreas[1]!;
    expect(last.offset + last.size).toBe(disk.size);
    expect(pv.metadataAreas.map((a) => [a.seqno, a.error])).toEqual([
      [pv.volumeGroup!.seqno, null],
      [pv.volumeGroup!.seqno, null],
    ]);
    expect(pv.header.extension).toEqual({ version: 2, flags: 1, bootloaderAreas: [] });
  });

  it('wrapped: the current text is read across the end of the circular buffer', () => {
    const [{ pv }] = candidates(['wrapped']) as [PvCandidate];
    expect(pv.metadataAreas[0]!.wrapped).toBe(true);
    expect(pv.volumeGroup!.logicalVolumes.map((lv) => lv.name)).toEqual(
      Array.from({ length: 8 }, (_, i) => `volume-${i}`),
    );
  });

  it('thin: the thin pool and thin LV keep their own fields and are not mapped', () => {
    const group = assembled('thin');
    const byName = new Map(group.metadata.logicalVolumes.map((lv) => [lv.name, lv]));
    expect(byName.get('thin-1')!.segments[0]).toMatchObject({
      kind: 'thin',
      type: 'thin',
      raw: { thin_pool: 'pool', device_id: 1, transaction_id: 0 },
    });
    expect(mapLogicalVolume(group.metadata, 'pool')).toEqual({
      ok: false,
      reason: 'fixture-thin/pool is a thin-pool volume: only linear and striped volumes are mapped',
    });
    // The hidden data LV of the pool is plain linear and maps.
    expect(mapLogicalVolume(group.metadata, 'pool_tdata').ok).toBe(true);
  });

  it('striped: reading through the LV view interleaves 64 KiB chunks of the two PVs', () => {
    const group = assembled('striped');
    const mapped = mapLogicalVolume(group.metadata, 'stripes');
    if (!mapped.ok) throw new Error(mapped.reason);
    const [target] = mapped.map.targets;
    if (target?.kind !== 'striped') throw new Error('not striped');
    // Mark every 64 KiB chunk of each PV's stripe with its stripe number and chunk index.
    const perStripe = (target.length / target.stripes.length) * 512;
    const disks = new Map(
      target.stripes.map((place, stripe) => {
        const member = group.members.find((m) => m.metadata.id === place.pvId)!;
        const bytes = new Uint8Array(member.found!.disk.size);
        for (let chunk = 0; chunk < perStripe / 65536; chunk++) {
          const from = place.offset * 512 + chunk * 65536;
          bytes.fill((stripe << 7) | chunk, from, from + 65536);
        }
        return [place.pvId, memoryDisk(bytes)] as const;
      }),
    );
    const disk = lvDisk(mapped.map, disks);
    expect(disk.size).toBe(4 * 1024 * 1024);
    const seen: number[] = [];
    for (let at = 0; at < disk.size; at += 65536) seen.push(disk.readAt(at, 1)[0]!);
    // dm-stripe: chunk n of the LV is chunk floor(n / 2) of stripe n % 2.
    expect(seen).toEqual(Array.from({ length: 64 }, (_, n) => ((n % 2) << 7) | Math.floor(n / 2)));
  });

  it('striped: a read crossing chunk boundaries returns the same bytes as reads chunk by chunk', () => {
    const group = assembled('striped');
    const lv = openLogicalVolume(group, 'stripes');
    if (!lv.ok) throw new Error(lv.reason);
    const whole = lv.disk.readAt(1000, 300_000);
    expect(whole.length).toBe(300_000);
    for (const at of [0, 64_535, 64_536, 130_000, 299_999]) {
      expect(lv.disk.readAt(1000 + at, 1)[0]).toBe(whole[at]);
    }
    expect(lv.disk.readAt(lv.disk.size - 10, 100)).toHaveLength(10);
    expect(lv.disk.readAt(lv.disk.size, 100)).toHaveLength(0);
  });
});
