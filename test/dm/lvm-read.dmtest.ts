/**
 * The LVM reader against lvm2 with real device-mapper (in the QEMU guest): lvm2 creates and
 * activates a VG over two loop devices (an LV striped over both, a linear LV of two non-adjacent
 * segments, names with dashes), writes a file system into each LV through its dm device, and its
 * dm tables are recorded. After deactivation, the reader's targets for each LV, written as dm
 * table lines over the same loops, must equal lvm2's tables, and the files must read back through
 * the reader's LV view (debugfs on what the view returns).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AssembledVolumeGroup,
  assembleVolumeGroups,
  type LvTarget,
  openLogicalVolume,
  type PvCandidate,
  readPhysicalVolume,
  uuidKey,
} from '../../src/engine/lvm/index.js';
import { openFileDisk } from '../../src/io/file-disk.js';
import {
  attachLoop,
  devnoOf,
  dmTables,
  dmUuids,
  inGuest,
  resetGuest,
  sh,
  skipReason,
  workDir,
} from './guest.js';

const VG = 'kpt-dm-vg';

describe.skipIf(!inGuest)(`LVM reader against lvm2 with device-mapper (${skipReason})`, () => {
  const images: string[] = [];
  const loops: string[] = [];
  const recorded = new Map<string, string>();
  let group: AssembledVolumeGroup;
  const disks: { close(): void }[] = [];
  const lvmDir = path.join(workDir, 'lvm-system');

  const lvm = (command: string, ...args: string[]) =>
    execFileSync(command, ['--devices', loops.join(','), ...args], {
      encoding: 'utf8',
      env: { ...process.env, LVM_SYSTEM_DIR: lvmDir, LVM_SUPPRESS_FD_WARNINGS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });

  beforeAll(() => {
    resetGuest();
    fs.mkdirSync(path.join(lvmDir, 'lock'), { recursive: true });
    fs.writeFileSync(
      path.join(lvmDir, 'lvm.conf'),
      [
        'backup { backup = 0 archive = 0 }',
        'devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 hints = "none" }',
        'activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }',
        `global { locking_dir = "${path.join(lvmDir, 'lock')}" }`,
        '',
      ].join('\n'),
    );
    for (const name of ['lvm-a.img', 'lvm-b.img']) {
      const image = path.join(workDir, name);
      fs.writeFileSync(image, '');
      fs.truncateSync(image, 48 * 1024 * 1024);
      images.push(image);
      loops.push(attachLoop(image));
    }
    lvm('pvcreate', '-q', ...loops);
    lvm('vgcreate', '-q', '-s', '1m', VG, ...loops);
    lvm('lvcreate', '-q', '-y', '-i', '2', '-I', '64k', '-L', '16m', '-n', 'striped-lv', VG);
    lvm('lvcreate', '-q', '-y', '-L', '6m', '-n', 'root-lv', VG, loops[0]!);
    lvm('lvcreate', '-q', '-y', '-L', '2m', '-n', 'between', VG, loops[0]!);
    lvm('lvextend', '-q', '-L', '12m', `${VG}/root-lv`, loops[0]!);

    // A file system in each LV, written through lvm2's own dm devices.
    const vgId = uuidKey(lvm('vgs', '--noheadings', '-o', 'vg_uuid', VG).trim());
    const lvIds = new Map(
      lvm('lvs', '--noheadings', '--separator', ' ', '-o', 'lv_name,lv_uuid', VG)
        .trim()
        .split('\n')
        .map((line) => line.trim().split(' ') as [string, string]),
    );
    const mapNames = new Map([...dmUuids()].map(([name, uuid]) => [uuid, name]));
    for (const lv of ['striped-lv', 'root-lv']) {
      const mapName = mapNames.get(`LVM-${vgId}${uuidKey(lvIds.get(lv)!)}`)!;
      recorded.set(lv, dmTables().get(mapName)!);
      const content = path.join(workDir, `content-${lv}`);
      fs.mkdirSync(content, { recursive: true });
      fs.writeFileSync(path.join(content, 'hello.txt'), `written into ${lv} through device-mapper\n`);
      sh('mkfs.ext4', '-q', '-F', '-d', content, `/dev/mapper/${mapName}`);
    }
    lvm('vgchange', '-q', '-an', VG);
    expect(dmTables().size).toBe(0);

    const candidates: PvCandidate[] = images.map((image) => {
      const disk = openFileDisk(image, fs.statSync(image).size, 512);
      disks.push(disk);
      return { source: image, disk, pv: readPhysicalVolume(disk)! };
    });
    const assembly = assembleVolumeGroups(candidates);
    expect(assembly.volumeGroups).toHaveLength(1);
    group = assembly.volumeGroups[0]!;
  });

  afterAll(() => {
    for (const disk of disks) disk.close();
    resetGuest();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  /** Our targets as dm table lines, each PV written as the loop device its image is on. */
  const tableOf = (targets: LvTarget[]) => {
    const devno = new Map(
      group.members.map((m) => [m.metadata.name, devnoOf(loops[images.indexOf(m.found!.source)]!)]),
    );
    return targets
      .map((t) =>
        t.kind === 'linear'
          ? `${t.start} ${t.length} linear ${devno.get(t.pv)} ${t.offset}`
          : `${t.start} ${t.length} striped ${t.stripes.length} ${t.chunkSize} ${t.stripes.map((s) => `${devno.get(s.pv)} ${s.offset}`).join(' ')}`,
      )
      .join('; ');
  };

  for (const lv of ['striped-lv', 'root-lv']) {
    it(`${lv}: the same dm table as lvm2's, and its file read back through the LV view`, () => {
      const opened = openLogicalVolume(group, lv);
      if (!opened.ok) throw new Error(opened.reason);
      expect(tableOf(opened.map.targets)).toBe(recorded.get(lv));
      const dump = path.join(workDir, `${lv}.view.img`);
      const fd = fs.openSync(dump, 'w');
      for (let at = 0; at < opened.disk.size; at += 1 << 20)
        fs.writeSync(fd, opened.disk.readAt(at, 1 << 20));
      fs.closeSync(fd);
      expect(sh('debugfs', '-R', 'cat /hello.txt', dump)).toBe(`written into ${lv} through device-mapper\n`);
    });
  }

  it('root-lv has two segments, around the LV made between them', () => {
    expect(recorded.get('root-lv')!.split('; ')).toHaveLength(2);
    expect(group.metadata.logicalVolumes.find((lv) => lv.name === 'root-lv')!.segments).toHaveLength(2);
  });
});
