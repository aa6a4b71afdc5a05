/**
 * `kpartx-tui mount IMAGE:VG/LV` for real with loop devices on this host (the loop backend: no
 * device-mapper here). The VG is made by lvm2 itself (metadata only, `--driverloaded n`, a private
 * LVM_SYSTEM_DIR) on partition 2 of a DOS image, the ext4 is written into the LV's extents at the
 * offset lvm2 reports; the LV becomes a loop over the PV partition's loop, is mounted read-only,
 * read back, and umount (or `kpartx -d` once unmounted) leaves nothing. The VG is named `rhel`, as
 * the host's own VG of a RHEL machine would be: nothing here asks the host's lvm2.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/engine/backends/select.js';
import type { Machine } from '../src/engine/machine.js';
import { LV_LOOP_MARKER } from '../src/engine/stack/lv-map.js';
import { runMaps } from '../src/engine/workflow/map-run.js';
import { createMachine } from '../src/kernel/machine.js';
import { type MountFaceDeps, mountMain, mountSource, umountMain } from '../src/mount/main.js';
import { passwdMain } from '../src/mount/passwd.js';
import { cleanupLoops, losetupLines } from './loop-helpers.js';
import { canUseLvm2, type Lvm2Sandbox, lvm2Sandbox, lvm2SkipReason, withLoops } from './lvm2-helpers.js';

const PART2_START = 8192;

describe.skipIf(!canUseLvm2)(`kpartx-tui mount IMAGE:VG/LV (${canUseLvm2 ? 'real' : lvm2SkipReason})`, () => {
  let lvm: Lvm2Sandbox;
  let image: string;
  let kernel: Machine;
  let savedRunDir: string | undefined;

  const deps = () => {
    const out = { stdout: '', stderr: '' };
    const d: MountFaceDeps = {
      machine: kernel,
      makeBackend: loadBackend,
      stdout: (text) => {
        out.stdout += text;
      },
      stderr: (text) => {
        out.stderr += text;
      },
    };
    return { d, out };
  };

  /** LV loops (over partition loops of our images) first, then what cleanupLoops knows. */
  function cleanup(): void {
    const all = kernel.loop.list();
    for (const loop of all.filter((l) => l.name?.startsWith(LV_LOOP_MARKER))) {
      const parent = all.find((p) => p.path === loop.backingFile);
      const image = parent && all.find((i) => i.path === parent.backingFile);
      if (!image?.backingFile.startsWith(`${lvm.dir}/`)) continue;
      for (const m of kernel.mounts.list().reverse())
        if (m.devno.major === loop.devno.major && m.devno.minor === loop.devno.minor)
          kernel.mounts.unmount(m.target);
      execFileSync('losetup', ['-d', loop.path]);
    }
    for (const name of existsSync('/dev/mapper') ? readdirSync('/dev/mapper') : []) {
      if (name.endsWith('-rhel-root') && lstatSync(`/dev/mapper/${name}`).isSymbolicLink())
        rmSync(`/dev/mapper/${name}`);
    }
    cleanupLoops(kernel, lvm.dir);
  }

  function expectNothingLeft(): void {
    expect(losetupLines(lvm.dir)).toEqual([]);
    expect(kernel.loop.list().filter((l) => l.name?.startsWith(LV_LOOP_MARKER))).toEqual([]);
    expect(kernel.mounts.list().filter((m) => m.target.startsWith(lvm.dir))).toEqual([]);
    const records = join(lvm.dir, 'run', 'mounts');
    expect(existsSync(records) ? readdirSync(records) : []).toEqual([]);
  }

  beforeAll(() => {
    lvm = lvm2Sandbox();
    savedRunDir = process.env.KPARTX_TUI_RUN_DIR;
    process.env.KPARTX_TUI_RUN_DIR = join(lvm.dir, 'run');
    kernel = createMachine();
    image = join(lvm.dir, 'rhel-like.img');
    execFileSync('truncate', ['-s', '64M', image]);
    execFileSync('sfdisk', ['-q', image], { input: `label: dos\n2048,6144,83\n${PART2_START},,8e\n` });
    const offset = PART2_START * 512;
    withLoops(
      [image],
      (loops) => {
        const run = (command: string, ...args: string[]) => lvm.run(command, args, loops);
        run('pvcreate', '-q', loops[0]!);
        run('vgcreate', '-q', 'rhel', loops[0]!);
        // swap first, so root starts past pe_start; `split` gets two runs (needs device-mapper).
        run('lvcreate', '-q', '-an', '-Zn', '-L', '4m', '-n', 'swap', 'rhel');
        run('lvcreate', '-q', '-an', '-Zn', '-L', '16m', '-n', 'root', 'rhel');
        run('lvcreate', '-q', '-an', '-Zn', '-L', '4m', '-n', 'split', 'rhel');
        run('lvcreate', '-q', '-an', '-Zn', '-L', '4m', '-n', 'gap', 'rhel');
        run('lvextend', '-q', '-L', '8m', 'rhel/split');
        const [pv] = lvm.report('pvs', 'pe_start', [], loops);
        const [vg] = lvm.report('vgs', 'vg_extent_size', ['rhel'], loops);
        const [seg] = lvm.report('lvs', 'seg_pe_ranges', ['--segments', 'rhel/root'], loops);
        const first = Number(/:(\d+)-/.exec(seg!.seg_pe_ranges!)![1]);
        expect(first).toBeGreaterThan(0);
        const lvStart = offset + (Number(pv!.pe_start) + first * Number(vg!.vg_extent_size)) * 512;
        const content = join(lvm.dir, 'root-content');
        mkdirSync(content, { recursive: true });
        writeFileSync(join(content, 'hello.txt'), 'root LV of rhel\n');
        mkdirSync(join(content, 'etc'));
        writeFileSync(
          join(content, 'etc/os-release'),
          'NAME="Rocky Linux"\nVERSION_ID="9.3"\nID=rocky\nPRETTY_NAME="Rocky Linux 9.3"\n',
        );
        writeFileSync(join(content, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
        writeFileSync(join(content, 'etc/shadow'), 'root:!!:19000:0:99999:7:::\n');
        execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, '-E', `offset=${lvStart}`, image, '16M']);
      },
      ['-o', String(offset)],
    );
  });

  afterEach(() => cleanup());

  afterAll(() => {
    cleanup();
    if (savedRunDir === undefined) delete process.env.KPARTX_TUI_RUN_DIR;
    else process.env.KPARTX_TUI_RUN_DIR = savedRunDir;
    lvm?.cleanup();
  });

  it('mounts rhel/root read-only through a loop over the PV partition, and umount takes it all back', async () => {
    const { d, out } = deps();
    expect(await mountMain([`${image}:rhel/root`, '--json'], d)).toBe(0);
    const result = JSON.parse(out.stdout);
    expect(result).toMatchObject({ fstype: 'ext4', readOnly: true, backend: 'loop', partition: 2 });
    // Named after the PV partition's map, never the bare `rhel-root` the host's lvm2 would use.
    expect(result.device).toMatch(/^\/dev\/mapper\/loop\d+p2-rhel-root$/);
    expect(readFileSync(join(result.mountpoint, 'hello.txt'), 'utf8')).toBe('root LV of rhel\n');
    expect(kernel.blockDevice(result.device).readOnly).toBe(true);
    // The LV's loop sits on the PV partition's loop, which sits on the image's loop.
    const lvLoop = kernel.loop.list().find((l) => l.name?.startsWith(LV_LOOP_MARKER))!;
    const partLoop = kernel.loop.list().find((l) => l.path === lvLoop.backingFile)!;
    expect(partLoop.backingFile).toBe(result.loop);
    expect(partLoop.offset).toBe(PART2_START * 512);
    expect(lvLoop.sizeLimit).toBe(16 * 1024 * 1024);
    const umount = deps();
    expect(await umountMain([result.mountpoint, '--json'], umount.d)).toBe(0);
    expect(existsSync(result.device)).toBe(false);
    expectNothingLeft();
  });

  it('kpartx-tui passwd IMAGE:VG/LV --list reads the system in the LV, and leaves nothing', async () => {
    const { d, out } = deps();
    expect(
      await passwdMain([`${image}:rhel/root`, '--list', '--json'], { ...d, readPassword: async () => '' }),
    ).toBe(0);
    const listed = JSON.parse(out.stdout);
    expect(listed.system.label).toContain('Rocky Linux 9.3');
    expect(listed.accounts.map((a: { name: string }) => a.name)).toEqual(['root']);
    expectNothingLeft();
  });

  it('an LV of two runs says exactly why it needs device-mapper, and maps nothing', async () => {
    const { d, out } = deps();
    expect(await mountMain([`${image}:rhel/split`, '--backend', 'loop'], d)).toBe(1);
    expect(out.stderr).toMatch(
      /rhel\/split has 2 separate runs on its PVs: a loop device reads one contiguous run, so it needs device-mapper/,
    );
    expectNothingLeft();
  });

  it('a missing VG or LV is named with what there is', async () => {
    const { d, out } = deps();
    expect(await mountMain([`${image}:centos/root`], d)).toBe(1);
    expect(out.stderr).toContain('no volume group centos here; volume groups: rhel');
    const other = deps();
    expect(await mountMain([`${image}:rhel/home`], other.d)).toBe(1);
    expect(other.out.stderr).toContain('no logical volume home; logical volumes: swap, root, split, gap');
    expectNothingLeft();
  });

  it('kpartx -d removes the LV map before the partition maps it sits on', async () => {
    const { d } = deps();
    const record = await mountSource(`${image}:rhel/root`, { rw: false }, d);
    kernel.mounts.unmount(record.mountpoint);
    rmSync(record.mountpoint, { recursive: true, force: true });
    const removed: string[] = [];
    const outcome = await runMaps(
      { operand: image, action: 'delete', readOnly: false, sync: true, backend: 'loop' },
      { machine: kernel, makeBackend: loadBackend },
      (event) => {
        if (event.type === 'removed') removed.push(event.name);
      },
    );
    expect(outcome.failures).toBe(0);
    expect(removed[0]).toMatch(/^loop\d+p2-rhel-root$/);
    expect(removed.slice(1)).toEqual([removed[0]!.replace('-rhel-root', '')]);
    rmSync(join(lvm.dir, 'run', 'mounts'), { recursive: true, force: true });
    expectNothingLeft();
  });
});
