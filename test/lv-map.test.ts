/**
 * The LV map plan from data: names lvm2 never uses (the PV partition's map name first, dashes
 * doubled as lvm2 does), `kpartx-tui-lv-` UUIDs, dm tables over the PV devices at the PV's offset
 * on them, the loop plan only for one linear run, and when the host's lvm2 would auto-activate.
 */
import { describe, expect, it } from 'vitest';
import type { LvMap } from '../src/engine/lvm/extents.js';
import { LV_UUID_PREFIX, lvMapName, type PvDevice, planLvMap } from '../src/engine/stack/lv-map.js';
import { autoActivationWarning, luksActivationWarning } from '../src/engine/workflow/lv-activation.js';
import { splitLvOperand } from '../src/engine/workflow/lv-run.js';
import { eventActivationFrom } from '../src/kernel/lvm-host.js';

const PV_A = 'aaaaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa';
const PV_B = 'bbbbbb-bbbb-bbbb-bbbb-bbbb-bbbb-bbbbbb';
const ids = { vgId: 'V'.repeat(32), lvId: 'L'.repeat(32) };
const devices = new Map<string, PvDevice>([
  [PV_A, { path: '/dev/loop5', devno: { major: 7, minor: 5 }, offset: 0 }],
  [PV_B.replaceAll('-', ''), { path: '/dev/loop0', devno: { major: 7, minor: 0 }, offset: 200_000 }],
]);

const linear = (targets: LvMap['targets']): LvMap => ({
  vgName: 'my-vg',
  lvName: 'root-lv',
  sectors: targets.reduce((n, t) => n + t.length, 0),
  targets,
});

describe('LV map plan', () => {
  it('names the map after the PV partition, never the bare vg-lv, and gives a kpartx-tui-lv- UUID', () => {
    const plan = planLvMap(
      linear([{ kind: 'linear', start: 0, length: 8192, pv: 'pv0', pvId: PV_A, offset: 2048 + 4096 }]),
      ids,
      'loop0p2',
      devices,
    );
    expect(plan.name).toBe('loop0p2-my--vg-root--lv');
    expect(plan.uuid).toBe(`${LV_UUID_PREFIX}${'V'.repeat(32)}${'L'.repeat(32)}-7:5`);
    expect(plan.uuid.startsWith('LVM-')).toBe(false);
    expect(plan.table).toEqual([{ start: 0, length: 8192, type: 'linear', params: '7:5 6144' }]);
    expect(plan.loop).toEqual({
      ok: true,
      backing: '/dev/loop5',
      offsetBytes: 6144 * 512,
      sizeBytes: 8192 * 512,
    });
  });

  it('a PV on the parent is offset by where its partition starts; a name with odd bytes is mangled', () => {
    const plan = planLvMap(
      linear([{ kind: 'linear', start: 0, length: 100, pv: 'pv1', pvId: PV_B, offset: 2048 }]),
      ids,
      'disk img1',
      devices,
    );
    expect(plan.table[0]!.params).toBe('7:0 202048');
    expect(plan.kernelName).toBe('disk\\x20img1-my--vg-root--lv');
    expect(lvMapName('sdb2', 'rhel', 'root')).toBe('sdb2-rhel-root');
  });

  it('striped and multi-run LVs get dm tables and say why a loop cannot present them', () => {
    const striped = planLvMap(
      linear([
        {
          kind: 'striped',
          start: 0,
          length: 256,
          chunkSize: 128,
          stripes: [
            { pv: 'pv0', pvId: PV_A, offset: 2048 },
            { pv: 'pv1', pvId: PV_B, offset: 2048 },
          ],
        },
      ]),
      ids,
      'loop0p2',
      devices,
    );
    expect(striped.table[0]!.params).toBe('2 128 7:5 2048 7:0 202048');
    expect(striped.loop).toEqual({
      ok: false,
      reason:
        'my-vg/root-lv is striped over 2 PVs: a loop device reads one contiguous run, so it needs device-mapper',
    });
    const two = planLvMap(
      linear([
        { kind: 'linear', start: 0, length: 10, pv: 'pv0', pvId: PV_A, offset: 2048 },
        { kind: 'linear', start: 10, length: 10, pv: 'pv0', pvId: PV_A, offset: 4096 },
      ]),
      ids,
      'loop0p2',
      devices,
    );
    expect(two.table.map((t) => t.params)).toEqual(['7:5 2048', '7:5 4096']);
    expect(two.loop.ok).toBe(false);
  });

  it('an unmapped PV is named', () => {
    expect(() =>
      planLvMap(
        linear([{ kind: 'linear', start: 0, length: 10, pv: 'pv9', pvId: 'c'.repeat(32), offset: 0 }]),
        ids,
        'loop0p2',
        devices,
      ),
    ).toThrow('my-vg/root-lv: PV pv9 is not mapped');
  });

  it('IMAGE:VG/LV is an LV unless a file has that name; IMAGE:N is not', () => {
    expect(splitLvOperand('vm.img:rhel/root', () => false)).toEqual({
      source: 'vm.img',
      vg: 'rhel',
      lv: 'root',
    });
    expect(splitLvOperand('vm.img:rhel/root', () => true)).toBeUndefined();
    expect(splitLvOperand('vm.img:2', () => false)).toBeUndefined();
    expect(splitLvOperand('vm.img:rhel/bad name', () => false)).toBeUndefined();
  });
});

describe("the host's lvm2 auto-activation", () => {
  const facts = { rule: '/lib/udev/rules.d/69-lvm.rules', eventActivation: true, udev: true };
  it('warns only for loop maps of PV partitions on a host with the rule, event activation and udev', () => {
    expect(autoActivationWarning(facts, 'loop', ['loop0p2'])).toContain(
      "the host's lvm2 (/lib/udev/rules.d/69-lvm.rules, event_activation=1) may activate its VG",
    );
    expect(autoActivationWarning(facts, 'dm', ['loop0p2'])).toBeUndefined();
    expect(autoActivationWarning({ ...facts, eventActivation: false }, 'loop', ['loop0p2'])).toBeUndefined();
    expect(autoActivationWarning({ ...facts, rule: null }, 'loop', ['loop0p2'])).toBeUndefined();
    expect(autoActivationWarning({ ...facts, udev: false }, 'loop', ['loop0p2'])).toBeUndefined();
  });
  it('warns for a LUKS volume whichever backend: cryptsetup flags its map for udev', () => {
    expect(luksActivationWarning(facts, 'loop0p3-luks')).toContain(
      "loop0p3-luks is opened by cryptsetup, whose device-mapper map udev sees as a new PV: the host's lvm2 (/lib/udev/rules.d/69-lvm.rules, event_activation=1) may activate the VG inside",
    );
    expect(luksActivationWarning({ ...facts, eventActivation: false }, 'loop0p3-luks')).toBeUndefined();
    expect(luksActivationWarning({ ...facts, rule: null }, 'loop0p3-luks')).toBeUndefined();
    expect(luksActivationWarning({ ...facts, udev: false }, 'loop0p3-luks')).toBeUndefined();
  });
  it('reads event_activation from lvm.conf text (on unless set to 0)', () => {
    expect(eventActivationFrom('global {\n\t# event_activation = 0\n}\n')).toBe(true);
    expect(eventActivationFrom('global {\n\tevent_activation = 0\n}\n')).toBe(false);
    expect(eventActivationFrom('global {\n\tevent_activation=1 # on\n}\n')).toBe(true);
  });
});
