/**
 * A logical volume as a Disk: reads go through its targets to the PVs' own Disks, so content
 * probes and table readers work inside an LV exactly as on a partition, with no kernel mapping.
 */
import type { Disk } from '../../io/disk.js';
import type { AssembledVolumeGroup } from './assemble.js';
import { LvmError, printable } from './errors.js';
import { type LvMap, type LvTarget, mapLogicalVolume } from './extents.js';
import { LVM_SECTOR } from './label.js';
import { uuidKey } from './pv-header.js';

/**
 * `pvDisks` holds a Disk per PV UUID (with or without dashes). Throws LvmError when a PV the LV
 * uses is not among them. A PV shorter than the LV needs (a truncated image) gives a short read
 * at that point, as the end of a disk does.
 */
export function lvDisk(map: LvMap, pvDisks: ReadonlyMap<string, Disk>): Disk {
  const disks = new Map([...pvDisks].map(([id, disk]) => [uuidKey(id), disk]));
  const diskOf = (pvId: string, pv: string): Disk => {
    const disk = disks.get(uuidKey(pvId));
    if (!disk) throw new LvmError(`${map.vgName}/${map.lvName}: PV ${pv} (UUID ${pvId}) is not available`);
    return disk;
  };
  const pieces = map.targets.map((target) => ({
    target,
    start: target.start * LVM_SECTOR,
    end: (target.start + target.length) * LVM_SECTOR,
    disks:
      target.kind === 'linear'
        ? [diskOf(target.pvId, target.pv)]
        : target.stripes.map((s) => diskOf(s.pvId, s.pv)),
  }));
  const size = map.sectors * LVM_SECTOR;
  // dm gives a mapped device the largest logical block size of what lies beneath it.
  const sectorSize = Math.max(LVM_SECTOR, ...pieces.flatMap((p) => p.disks.map((d) => d.sectorSize)));

  const pieceAt = (offset: number) => {
    let lo = 0;
    let hi = pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (pieces[mid]!.start <= offset) lo = mid;
      else hi = mid - 1;
    }
    return pieces[lo]!;
  };

  /** Where LV byte `offset` lies (inside `piece`), and how many bytes follow it there contiguously. */
  const locate = (
    piece: (typeof pieces)[number],
    offset: number,
  ): { disk: Disk; at: number; run: number } => {
    const target: LvTarget = piece.target;
    const relative = offset - piece.start;
    if (target.kind === 'linear') {
      return { disk: piece.disks[0]!, at: target.offset * LVM_SECTOR + relative, run: piece.end - offset };
    }
    const chunk = target.chunkSize * LVM_SECTOR;
    const index = Math.floor(relative / chunk);
    const stripe = index % target.stripes.length;
    const row = Math.floor(index / target.stripes.length);
    const within = relative - index * chunk;
    return {
      disk: piece.disks[stripe]!,
      at: target.stripes[stripe]!.offset * LVM_SECTOR + row * chunk + within,
      run: Math.min(chunk - within, piece.end - offset),
    };
  };

  return {
    sectorSize,
    size,
    readAt(offset, length) {
      if (offset < 0 || offset >= size || length <= 0 || pieces.length === 0) return new Uint8Array(0);
      const wanted = Math.min(length, size - offset);
      const out = new Uint8Array(wanted);
      let done = 0;
      while (done < wanted) {
        const { disk, at, run } = locate(pieceAt(offset + done), offset + done);
        const want = Math.min(run, wanted - done, disk.size - at);
        // A PV shorter than its extents (a truncated image) ends the read there.
        if (want <= 0) break;
        const got = disk.readAt(at, want);
        out.set(got, done);
        done += got.length;
        if (got.length < want) break;
      }
      return done === wanted ? out : out.subarray(0, done);
    },
  };
}

export type OpenLvResult = { ok: true; map: LvMap; disk: Disk } | { ok: false; reason: string };

/** An LV of an assembled VG, mapped and readable; or why it cannot be (its type, a missing PV). */
export function openLogicalVolume(group: AssembledVolumeGroup, lvName: string): OpenLvResult {
  const mapped = mapLogicalVolume(group.metadata, lvName);
  if (!mapped.ok) return mapped;
  const disks = new Map<string, Disk>();
  for (const member of group.members) if (member.found) disks.set(member.metadata.id, member.found.disk);
  const needed = mapped.map.targets.flatMap((t) => (t.kind === 'linear' ? [t] : t.stripes));
  const absent = needed.find((place) => !disks.has(place.pvId));
  if (absent) {
    const pv = group.members.find((m) => m.metadata.name === absent.pv)?.metadata;
    return {
      ok: false,
      reason: `${group.metadata.name}/${lvName} needs PV ${absent.pv} (UUID ${absent.pvId}, last seen on ${pv?.deviceHint ? printable(pv.deviceHint) : 'an unknown device'}), which is missing`,
    };
  }
  return { ok: true, map: mapped.map, disk: lvDisk(mapped.map, disks) };
}
