/**
 * `kpartx-tui --json` through the storage stack, on disks made by the real tools: the GPT disk
 * in raw form and converted by qemu-img to qcow2 (v2, v3, compressed), VMDK (sparse, flat), VHD
 * (fixed, dynamic), VHDX and VDI lists the same table, partitions, contents and LVM volume group
 * as the raw disk, plus the container; nothing maps from a container's own bytes.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonDocument, jsonMain } from '../src/cli/json.js';
import { inspectSource, type SourceReport } from '../src/engine/inspect.js';
import { createMachine } from '../src/kernel/machine.js';
import {
  canMakeDisks,
  disksSkipReason,
  LAYOUT,
  makeStackDisks,
  type StackDisks,
} from './support/stack-images.js';

async function json(path: string): Promise<{ status: number; report: SourceReport }> {
  let out = '';
  const status = await jsonMain([path], {
    stdout: (text) => {
      out += text;
    },
    stderr: () => {},
  });
  return { status, report: (JSON.parse(out) as JsonDocument).sources[0]! };
}

/** What must not depend on the container: the guest's table, partitions, contents and LVM. */
const guestView = (r: SourceReport) => ({
  table: r.table,
  partitions: r.partitions.map((p) => ({
    number: p.number,
    start: p.start,
    size: p.size,
    name: p.name,
    uuid: p.uuid,
    content: p.content,
    system: p.system,
  })),
  volumeGroups: r.volumeGroups.map((vg) => ({
    ...vg,
    logicalVolumes: vg.logicalVolumes.map(({ attach: _a, ...lv }) => lv),
  })),
});

describe.skipIf(!canMakeDisks)(`--json through containers and LVM (${disksSkipReason})`, () => {
  let disks: StackDisks;
  let raw: SourceReport;
  beforeAll(async () => {
    disks = makeStackDisks(true, true);
    raw = (await json(disks.raw)).report;
  }, 120_000);
  afterAll(() => disks?.cleanup());

  it('reads the raw disk: GPT, vfat and ext4, and no container', () => {
    expect(raw.container).toBeNull();
    expect(raw.table?.type).toBe('gpt');
    expect(raw.partitions.map((p) => [p.number, p.start, p.size, p.content?.type, p.content?.label])).toEqual(
      [
        [1, LAYOUT.esp.start, LAYOUT.esp.size, 'vfat', 'ESP'],
        [2, LAYOUT.root.start, LAYOUT.root.size, 'ext4', 'root'],
        [3, LAYOUT.lvm.start, LAYOUT.lvm.size, disks.lvm ? 'LVM2_member' : undefined, undefined],
      ],
    );
    expect(raw.partitions.map((p) => p.attach.text)).toEqual([
      'partition map',
      'partition map',
      'partition map',
    ]);
    expect(raw.maps).toHaveLength(3);
    expect(raw.stack?.children[0]).toMatchObject({ layer: 'table', name: 'gpt' });
  });

  it('names the Debian root on partition 2 without mounting it, and says why the ESP has no system', () => {
    const root = raw.partitions[1]!;
    expect(root.system).toEqual({
      kind: 'linux',
      label: 'Debian GNU/Linux 12 root',
      os: 'Debian GNU/Linux 12 (bookworm)',
      id: 'debian',
      version: '12',
      hostname: 'bookworm-vm',
      selinux: null,
      selinuxPolicy: null,
      osReleasePath: '/etc/os-release',
      shadow: true,
      warnings: [],
    });
    expect(root.systemNote).toBeNull();
    // Never a hash, whatever the shadow file holds.
    expect(JSON.stringify(raw)).not.toContain('$6$');
    expect(raw.partitions[0]!.system).toBeNull();
    expect(raw.partitions[0]!.systemNote).toMatch(/^vfat is not read without mounting/);
    expect(raw.stack!.children[0]!.children[1]!.system).toEqual(root.system);
  });

  it('assembles the VG on partition 3 as lvm2 wrote it, with the LV contents read through its extents', () => {
    if (!disks.lvm) return;
    expect(raw.volumeGroups).toHaveLength(1);
    const [vg] = raw.volumeGroups;
    expect(vg).toMatchObject({ name: 'vgtest', missing: [] });
    expect(vg!.physicalVolumes.map((pv) => [pv.partition, pv.extent])).toEqual([[3, LAYOUT.lvm]]);
    // In the metadata's order (creation); lvs sorts by name.
    expect(vg!.logicalVolumes.map((lv) => [lv.name, lv.sizeSectors, lv.segmentType]).sort()).toEqual(
      disks.lvs.map((lv) => [lv.name, lv.sectors, lv.segtype]).sort(),
    );
    const root = vg!.logicalVolumes.find((lv) => lv.name === 'root')!;
    expect(root.content).toMatchObject({ type: 'ext4', label: 'lvroot' });
    // Read through the LV's extents, as its content is.
    expect(root.system).toMatchObject({
      label: 'Rocky Linux 9.4 root',
      os: 'Rocky Linux 9.4 (Blue Onyx)',
      id: 'rocky',
      version: '9.4',
      hostname: 'rocky-vm',
      selinux: 'enforcing',
      selinuxPolicy: 'targeted',
      shadow: false,
    });
    expect(root.attach.text).toBe('lv linear map');
    expect(vg!.logicalVolumes.find((lv) => lv.name === 'data')!.content).toBeNull();
    // In the tree: source → table → partition 3 → VG → LVs.
    const part3 = raw.stack!.children[0]!.children[2]!;
    expect(part3.children.map((n) => [n.layer, n.name, n.children.map((c) => c.name)])).toEqual([
      ['volume-group', 'vgtest', ['vgtest/root', 'vgtest/data']],
    ]);
    expect(part3.children[0]!.children[0]!.system?.label).toBe('Rocky Linux 9.4 root');
  });

  const formats: [string, 'qcow2' | 'vmdk' | 'vpc' | 'vhdx' | 'vdi', string | undefined, string][] = [
    ['qcow2 v3', 'qcow2', undefined, 'qcow2'],
    ['qcow2 v2', 'qcow2', 'compat=0.10', 'qcow2'],
    ['VMDK sparse', 'vmdk', undefined, 'vmdk'],
    ['VMDK flat', 'vmdk', 'subformat=monolithicFlat', 'vmdk'],
    ['VHD dynamic', 'vpc', 'subformat=dynamic,force_size=on', 'vhd'],
    ['VHDX', 'vhdx', undefined, 'vhdx'],
    ['VDI', 'vdi', undefined, 'vdi'],
  ];
  it.each(formats)(
    '%s: the same layout, contents and VG as the raw disk, plus the container',
    async (label, format, options, family) => {
      const file = disks.convert(format, options, `${label.replaceAll(' ', '-')}.${format}`);
      const { status, report } = await json(file);
      expect(status).toBe(0);
      expect(report.container).toMatchObject({
        format: family,
        virtualSize: 64 * 1024 * 1024,
        readable: true,
        problem: null,
      });
      expect(report.container!.attach).toMatchObject({ method: 'nbd', needs: 'nbd' });
      expect(guestView(report)).toEqual(guestView(raw));
      // Nothing maps from the container's bytes: each partition says it needs nbd.
      expect(report.maps).toEqual([]);
      expect(report.partitions.every((p) => p.map === null && p.attach.method === 'nbd')).toBe(true);
      expect(report.problems.join('\n')).toMatch(/qemu-nbd/);
      expect(report.stack!.children[0]).toMatchObject({ layer: 'container', name: family });
    },
  );

  it('a compressed qcow2 reads the same', async () => {
    const file = join(disks.dir, 'compressed.qcow2');
    execFileSync('qemu-img', ['convert', '-c', '-O', 'qcow2', disks.raw, file]);
    const { report } = await json(file);
    expect(guestView(report)).toEqual(guestView(raw));
  });

  it('a fixed VHD is its raw disk with a footer: named, and its partitions map as they are', async () => {
    const file = disks.convert('vpc', 'subformat=fixed,force_size=on', 'fixed.vhd');
    const { report } = await json(file);
    expect(report.container).toMatchObject({ format: 'vhd', attach: { method: 'partition-map' } });
    expect(guestView(report)).toEqual(guestView(raw));
    expect(report.maps.map((m) => m.start)).toEqual(raw.maps.map((m) => m.start));
    expect(report.partitions.map((p) => p.attach.text)).toEqual([
      'partition map',
      'partition map',
      'partition map',
    ]);
  });

  it('a qcow2 claiming a 2^64-1 byte disk or an absurd L1 table gives a clear problem, fast', async () => {
    const good = readFileSync(disks.convert('qcow2', undefined, 'hostile-base.qcow2'));
    const cases: [string, (b: Buffer) => void][] = [
      ['size', (b) => b.writeBigUInt64BE(0xffffffffffffffffn, 24)],
      ['l1', (b) => b.writeUInt32BE(0x7fffffff, 36)],
    ];
    for (const [name, patch] of cases) {
      const bytes = Buffer.from(good);
      patch(bytes);
      const file = join(disks.dir, `hostile-${name}.qcow2`);
      writeFileSync(file, bytes);
      const started = performance.now();
      const report = inspectSource(file, createMachine());
      const took = performance.now() - started;
      expect(took).toBeLessThan(100);
      expect(report.error).toBeNull();
      expect(report.container?.format).toBe('qcow2');
      expect(report.container?.readable).toBe(false);
      expect(report.container?.problem).toMatch(new RegExp(`^${file}: `));
      expect(report.partitions).toEqual([]);
      expect(report.maps).toEqual([]);
      expect(report.problems[0]).toContain(file);
    }
  });
});
