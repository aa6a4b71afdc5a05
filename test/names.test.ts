import { describe, expect, it } from 'vitest';
import {
  defaultDelimiter,
  devNoFromNonDmUuid,
  dmName,
  fitsDmName,
  lastPathComponent,
  nonDmUuid,
  parentUuid,
  partitionName,
  partitionNumberOf,
  partitionUuid,
  resolveDelimiter,
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

describe('uuids', () => {
  it('builds the devnode form from the device number in decimal', () => {
    expect(nonDmUuid({ major: 7, minor: 0 })).toBe('devnode_7:0_Wh5pYvM');
    expect(parentUuid('', { major: 254, minor: 1 })).toBe('devnode_254:1_Wh5pYvM');
    expect(parentUuid('mpath-3600abc', { major: 254, minor: 0 })).toBe('mpath-3600abc');
    expect(partitionUuid(3, 'devnode_7:0_Wh5pYvM')).toBe('part3-devnode_7:0_Wh5pYvM');
    expect(devNoFromNonDmUuid('devnode_259:12_Wh5pYvM')).toEqual({ major: 259, minor: 12 });
    expect(devNoFromNonDmUuid('mpath-3600abc')).toBeNull();
  });

  it('recognises partition UUIDs of one parent only', () => {
    expect(partitionNumberOf('part12-mpath-3600abc', 'mpath-3600abc')).toBe(12);
    expect(partitionNumberOf('part1-devnode_7:5_Wh5pYvM', 'devnode_7:0_Wh5pYvM')).toBeNull();
    expect(partitionNumberOf('LVM-abcdef', 'devnode_7:0_Wh5pYvM')).toBeNull();
    expect(partitionNumberOf('partx-mpath', 'mpath')).toBeNull();
  });
});
