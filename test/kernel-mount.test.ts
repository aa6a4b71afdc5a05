import { describe, expect, it } from 'vitest';
import {
  createMountApi,
  parseMountinfo,
  parseMountinfoLine,
  unescapeMountField,
} from '../src/kernel/mount.js';

describe('mountinfo parsing', () => {
  it('reads source, target, type, options and device number, with optional fields', () => {
    const line = '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue';
    expect(parseMountinfoLine(line)).toEqual({
      source: '/dev/root',
      target: '/mnt2',
      fstype: 'ext3',
      options: 'rw,noatime',
      devno: { major: 98, minor: 0 },
    });
  });

  it('decodes octal escapes, including UTF-8 bytes', () => {
    expect(unescapeMountField('/mnt/with\\040space\\011tab')).toBe('/mnt/with space\ttab');
    expect(unescapeMountField('/mnt/back\\134slash\\012nl')).toBe('/mnt/back\\slash\nnl');
    expect(unescapeMountField('/mnt/caf\\303\\251')).toBe('/mnt/café');
    expect(unescapeMountField('/plain')).toBe('/plain');
    const line = '40 1 7:3 / /run/kpartx-tui/mnt/my\\040disk ro,nosuid - ext4 /dev/mapper/loop0p1 ro';
    expect(parseMountinfoLine(line)?.target).toBe('/run/kpartx-tui/mnt/my disk');
  });

  it('skips malformed lines instead of failing', () => {
    const text = [
      'garbage',
      '1 2 x:y / /a rw - ext4 /dev/x rw',
      '22 1 0:21 / /sys rw - sysfs sysfs rw',
      '',
    ].join('\n');
    expect(parseMountinfo(text).map((m) => m.target)).toEqual(['/sys']);
  });

  it('lists the mounts of this process, the root filesystem among them', () => {
    const mounts = createMountApi().list();
    expect(mounts.some((m) => m.target === '/')).toBe(true);
    for (const m of mounts) expect(m.devno.major).toBeGreaterThanOrEqual(0);
  });
});
