/**
 * Columns share the width by what they hold: a long file name is shown whole when there is room,
 * the Type column stops growing, and a detail line too long for the width goes on to the next lines.
 */
import { describe, expect, it } from 'vitest';
import { shareWidth } from '../../src/tui/components/Layout.js';
import type { Inspection, MapOptions, SourceEntry } from '../../src/tui/model.js';
import { ScriptedEngine, SOURCES } from './fixtures.js';
import { expectFits, startApp } from './helpers.js';

const LONG_NAME = 'ubuntu-24.04-server-cloudimg-amd64.img';
const ESP_GUID = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const ESP_NAME = 'EFI system partition, disk 1';

/** The scripted source list and layout, with a long image name and a GPT partition with everything. */
class WideEngine extends ScriptedEngine {
  override listSources(): SourceEntry[] {
    return [{ ...SOURCES[0]!, name: LONG_NAME, path: `/work/${LONG_NAME}` }, ...SOURCES.slice(1)];
  }
  override inspect(path: string, options: MapOptions): Inspection {
    const inspection = super.inspect(path, options);
    const [first, ...rest] = inspection.layout.partitions;
    return {
      ...inspection,
      layout: {
        ...inspection.layout,
        partitions: [
          { ...first!, typeCode: ESP_GUID, gptName: ESP_NAME, flags: ['legacy_boot', 'required'] },
          ...rest,
        ],
      },
    };
  }
}

describe('columns share the width', () => {
  it('shows a long file name whole on the source list at 100 columns', async () => {
    const size = { columns: 100, rows: 24 };
    const t = startApp(new WideEngine(), [], { size });
    await t.waitFor(new RegExp(`❯ ${LONG_NAME.replace(/\./g, '\\.')} +image +64 MiB +gpt`));
    expectFits(t.frame(), size);
    t.app.unmount();
  });

  it('caps the Type column at 200 columns and gives names their room', async () => {
    const size = { columns: 200, rows: 30 };
    const t = startApp(new WideEngine(), ['/work/disk.img'], { size });
    await t.waitFor('Linux swap');
    const header = t
      .frame()
      .split('\n')
      .find((line) => /Type +Name/.test(line))!;
    expect(header.indexOf('Name') - header.indexOf('Type')).toBeLessThanOrEqual(25);
    expect(t.frame()).toMatch(/EFI System +EFI system partition, disk 1 +legacy_boot,required +vfat "EFI"/);
    expectFits(t.frame(), size);
    t.app.unmount();
  });

  it('puts a detail line too long for 80 columns on more lines, each fact whole', async () => {
    const size = { columns: 80, rows: 24 };
    const t = startApp(new WideEngine(), ['/work/disk.img'], { size });
    await t.waitFor('Linux swap');
    const lines = t.frame().split('\n');
    const at = lines.findIndex((line) => line.startsWith('#1 primary'));
    const detail = lines
      .slice(at, at + 3)
      .map((line) => line.trim())
      .join(' · ');
    expect(detail).toContain(`type ${ESP_GUID}`);
    expect(detail).toContain(`name "${ESP_NAME}"`);
    expect(detail).toContain('flags legacy_boot,required · vfat "EFI" · not mapped');
    expect(detail).not.toContain('…');
    expectFits(t.frame(), size);
    t.app.unmount();
  });
});

describe('shareWidth', () => {
  it('gives each column what it needs when there is room, and shares by weight when not', () => {
    expect(shareWidth(100, [10, 20, 5], [3, 2, 1])).toEqual([10, 20, 5]);
    // The small column keeps what it needs; the others share the rest by weight.
    expect(shareWidth(40, [30, 30, 4], [1, 1, 1])).toEqual([18, 18, 4]);
    expect(shareWidth(0, [3], [1])).toEqual([0]);
  });
});
