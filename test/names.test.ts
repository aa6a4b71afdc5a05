import { describe, expect, it } from 'vitest';
import {
  defaultDelimiter,
  dmName,
  fitsDmName,
  kernelDmName,
  lastPathComponent,
  mangleDmName,
  nonDmUuid,
  parentUuid,
  partitionName,
  partitionNumberOf,
  partitionUuid,
  resolveDelimiter,
  unmangleDmName,
} from '../src/engine/names.js';

describe('map names', () => {
  it('takes the last path component as typed', () => {
    expect(lastPathComponent('/dev/sda')).toBe('sda');
    expect(lastPathComponent('/dev/disk/by-id/wwn-0x5000c500a1b2c3d4')).toBe('wwn-0x5000c500a1b2c3d4');
    expect(lastPathComponent('mydisk')).toBe('mydisk');
    expect(lastPathComponent('/tmp/kp/')).toBe('');
  });

  it('puts p between a trailing digit and the number, nothing otherwise', () => {
    expect(defaultDelimiter('loop0')).toBe('p');
    expect(defaultDelimiter('nvme0n1')).toBe('p');
    expect(defaultDelimiter('sda')).toBe('');
    expect(defaultDelimiter('mpatha')).toBe('');
    expect(defaultDelimiter('')).toBe('');
    expect(partitionName('sda', defaultDelimiter('sda'), 1)).toBe('sda1');
    expect(partitionName('mmcblk0', defaultDelimiter('mmcblk0'), 2)).toBe('mmcblk0p2');
  });

  it('lets -p win, even when empty', () => {
    expect(resolveDelimiter('loop0', '')).toBe('');
    expect(resolveDelimiter('mpatha', '-part')).toBe('-part');
    expect(resolveDelimiter('loop0', undefined)).toBe('p');
    expect(partitionName('loop0', resolveDelimiter('loop0', ''), 1)).toBe('loop01');
  });

  it('replaces / by ! from the second character on only', () => {
    expect(dmName('loop0/1')).toBe('loop0!1');
    expect(dmName('a/b/c')).toBe('a!b!c');
    expect(dmName('/x/1')).toBe('/x!1');
    expect(dmName('/')).toBe('/');
    expect(dmName('plain')).toBe('plain');
  });

  it('checks the device-mapper name length in bytes', () => {
    expect(fitsDmName('a'.repeat(127))).toBe(true);
    expect(fitsDmName('a'.repeat(128))).toBe(false);
    expect(fitsDmName('é'.repeat(64))).toBe(false);
  });
});

// Each pair was checked against libdevmapper (dmsetup info -c -o name,mangled_name) in the guest.
describe('device-mapper name mangling, as libdevmapper does it by default', () => {
  it('writes each byte outside [0-9A-Za-z#+-.:=@_] as \\xNN', () => {
    expect(mangleDmName('loop0 x1')).toEqual({ ok: true, name: 'loop0\\x20x1' });
    expect(mangleDmName('loop0!x1')).toEqual({ ok: true, name: 'loop0\\x21x1' });
    expect(mangleDmName('loop0\\1')).toEqual({ ok: true, name: 'loop0\\x5c1' });
    expect(mangleDmName('loop0é1')).toEqual({ ok: true, name: 'loop0\\xc3\\xa91' });
    expect(mangleDmName('a/b')).toEqual({ ok: true, name: 'a\\x2fb' });
    expect(mangleDmName('Az09#+-.:=@_')).toEqual({ ok: true, name: 'Az09#+-.:=@_' });
  });

  it('keeps a name that is already mangled', () => {
    expect(mangleDmName('loop0\\x201')).toEqual({ ok: true, name: 'loop0\\x201' });
    expect(mangleDmName('a\\x20b\\x21c')).toEqual({ ok: true, name: 'a\\x20b\\x21c' });
  });

  it('refuses what libdevmapper refuses: mixed, mangled twice, a cut-off \\x', () => {
    for (const name of ['loop0\\x20 1', 'a b\\x20', 'ab\\x2']) {
      expect(mangleDmName(name)).toMatchObject({
        ok: false,
        problem: expect.stringMatching(/mixes mangled/),
      });
    }
    expect(mangleDmName('loop0\\x5cx1')).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/mangled more than once/),
    });
  });

  it('unmangles kernel names for messages, as libdevmapper reports them', () => {
    expect(unmangleDmName('loop0\\x20x1')).toBe('loop0 x1');
    expect(unmangleDmName('loop0\\xc3\\xa91')).toBe('loop0é1');
    expect(unmangleDmName('loop0p1')).toBe('loop0p1');
    expect(unmangleDmName('raw name')).toBe('raw name');
    expect(unmangleDmName('a\\xzz')).toBe('a\\xzz');
  });

  it('turns a partition map name into the kernel name, or says why it cannot be one', () => {
    expect(kernelDmName('loop0/x1')).toEqual({ ok: true, dmName: 'loop0!x1', kernelName: 'loop0\\x21x1' });
    expect(kernelDmName('loop0p1')).toEqual({ ok: true, dmName: 'loop0p1', kernelName: 'loop0p1' });
    expect(kernelDmName('/x1')).toEqual({ ok: false, problem: 'device-mapper names cannot contain "/"' });
    expect(kernelDmName('a'.repeat(127))).toMatchObject({ ok: true });
    const spaced = `${'a'.repeat(120)}  1`;
    expect(fitsDmName(spaced)).toBe(true);
    expect(kernelDmName(spaced)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(
        /longer than device-mapper allows \(127 bytes; 129 once mangled as a+\\x20\\x201\)/,
      ),
    });
  });
});

describe('uuids', () => {
  it('builds the devnode form from the device number in decimal', () => {
    expect(nonDmUuid({ major: 7, minor: 0 })).toBe('devnode_7:0_Wh5pYvM');
    expect(parentUuid('', { major: 254, minor: 1 })).toBe('devnode_254:1_Wh5pYvM');
    expect(parentUuid('mpath-3600abc', { major: 254, minor: 0 })).toBe('mpath-3600abc');
    expect(partitionUuid(3, 'devnode_7:0_Wh5pYvM')).toBe('part3-devnode_7:0_Wh5pYvM');
  });

  it('recognises partition UUIDs of one parent only', () => {
    expect(partitionNumberOf('part12-mpath-3600abc', 'mpath-3600abc')).toBe(12);
    expect(partitionNumberOf('part1-devnode_7:5_Wh5pYvM', 'devnode_7:0_Wh5pYvM')).toBeNull();
    expect(partitionNumberOf('LVM-abcdef', 'devnode_7:0_Wh5pYvM')).toBeNull();
    expect(partitionNumberOf('partx-mpath', 'mpath')).toBeNull();
  });
});
