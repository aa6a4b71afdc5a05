import { describe, expect, it } from 'vitest';
import {
  DM_IOCTL_SIZE,
  DmCommand,
  DmFlag,
  decodeDeps,
  decodeDev,
  decodeDmHeader,
  decodeNameList,
  decodeTargets,
  decodeVersionList,
  dmRequest,
  encodeDev,
  encodeDmIoctl,
  encodeRename,
  encodeTargets,
} from '../src/kernel/dm-ioctl.js';

/** A reply buffer as the kernel leaves it: head with data_start 312, `area` after it. */
function reply(area: Buffer, fields: { targetCount?: number; flags?: number } = {}): Buffer {
  const buf = encodeDmIoctl({ size: DM_IOCTL_SIZE + area.length, targetCount: fields.targetCount ?? 0 });
  buf.writeUInt32LE(DM_IOCTL_SIZE + area.length, 12);
  buf.writeUInt32LE(fields.flags ?? 0, 28);
  area.copy(buf, DM_IOCTL_SIZE);
  return buf;
}

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('dm ioctl request numbers', () => {
  it('match the values the C headers produce (_IOWR(0xfd, nr, 312 bytes))', () => {
    expect(dmRequest(DmCommand.VERSION)).toBe(0xc138fd00);
    expect(dmRequest(DmCommand.LIST_DEVICES)).toBe(0xc138fd02);
    expect(dmRequest(DmCommand.DEV_CREATE)).toBe(0xc138fd03);
    expect(dmRequest(DmCommand.DEV_SUSPEND)).toBe(0xc138fd06);
    expect(dmRequest(DmCommand.TABLE_LOAD)).toBe(0xc138fd09);
    expect(dmRequest(DmCommand.TABLE_STATUS)).toBe(0xc138fd0c);
    expect(dmRequest(DmCommand.LIST_VERSIONS)).toBe(0xc138fd0d);
  });
});

describe('device numbers in the kernel huge encoding', () => {
  it('round-trips small and large minors', () => {
    expect(encodeDev({ major: 254, minor: 3 })).toBe(0xfe03);
    expect(encodeDev({ major: 7, minor: 300 })).toBe(0x10072c);
    for (const d of [
      { major: 254, minor: 0 },
      { major: 7, minor: 1048575 },
      { major: 4095, minor: 256 },
    ]) {
      expect(decodeDev(encodeDev(d))).toEqual(d);
    }
  });
});

describe('struct dm_ioctl head', () => {
  it('puts every field at its offset', () => {
    const buf = encodeDmIoctl({
      name: 'loop0p1',
      uuid: 'part1-devnode_7:0_Wh5pYvM',
      devno: { major: 254, minor: 1 },
      flags: DmFlag.READONLY | DmFlag.UUID,
      targetCount: 1,
      payload: Buffer.from([1, 2, 3]),
    });
    expect(buf.length).toBe(320);
    expect(buf.subarray(0, 48)).toEqual(
      hex(`04000000 00000000 00000000  40010000 38010000 01000000
           00000000 01400000 00000000 00000000 01fe000000000000`),
    );
    expect(buf.toString('latin1', 48, 56)).toBe('loop0p1\0');
    expect(buf.toString('latin1', 176, 202)).toBe('part1-devnode_7:0_Wh5pYvM\0');
    expect([...buf.subarray(312, 316)]).toEqual([1, 2, 3, 0]);
  });

  it('refuses names and uuids the kernel cannot hold', () => {
    expect(() => encodeDmIoctl({ name: 'x'.repeat(128) })).toThrow(/longer than 127 bytes/);
    expect(() => encodeDmIoctl({ uuid: 'u'.repeat(129) })).toThrow(/longer than 128 bytes/);
    expect(() => encodeDmIoctl({ name: 'a\0b' })).toThrow(/NUL/);
  });

  it('decodes what the kernel writes back', () => {
    const buf = encodeDmIoctl({ name: 'mpatha1', uuid: 'part1-mpath-3600abc' });
    buf.writeUInt32LE(47, 4);
    buf.writeInt32LE(2, 24);
    buf.writeUInt32LE(DmFlag.READONLY | DmFlag.ACTIVE_PRESENT, 28);
    buf.writeUInt32LE(encodeDev({ major: 254, minor: 7 }), 40);
    expect(decodeDmHeader(buf)).toMatchObject({
      version: [4, 47, 0],
      dataStart: 312,
      openCount: 2,
      flags: DmFlag.READONLY | DmFlag.ACTIVE_PRESENT,
      devno: { major: 254, minor: 7 },
      name: 'mpatha1',
      uuid: 'part1-mpath-3600abc',
    });
  });
});

describe('target specs', () => {
  it('encodes TABLE_LOAD specs with next = distance to the following spec', () => {
    const bytes = encodeTargets([
      { start: 0, length: 16384, type: 'linear', params: '7:0 2048' },
      { start: 16384, length: 8, type: 'error', params: '' },
    ]);
    // 40-byte spec + "7:0 2048\0" (9) = 49 → 56; then 40 + 1 → 48.
    expect(bytes.length).toBe(104);
    expect(bytes.subarray(0, 40)).toEqual(
      hex(`0000000000000000 0040000000000000 00000000 38000000
           6c696e6561720000 0000000000000000`),
    );
    expect(bytes.toString('latin1', 40, 49)).toBe('7:0 2048\0');
    expect(bytes.readBigUInt64LE(56)).toBe(16384n);
    expect(bytes.readUInt32LE(56 + 20)).toBe(48);
    expect(bytes.toString('latin1', 56 + 24, 56 + 29)).toBe('error');
  });

  it('decodes TABLE_STATUS output where next counts from the first spec', () => {
    const area = Buffer.alloc(112);
    area.writeBigUInt64LE(0n, 0);
    area.writeBigUInt64LE(2048n, 8);
    area.writeUInt32LE(56, 20);
    area.write('linear', 24, 'latin1');
    area.write('7:1 2048\0', 40, 'latin1');
    area.writeBigUInt64LE(2048n, 56);
    area.writeBigUInt64LE(4096n, 64);
    area.writeUInt32LE(112, 76);
    area.write('linear', 80, 'latin1');
    area.write('254:0 0\0', 96, 'latin1');
    const buf = reply(area, { targetCount: 2 });
    expect(decodeTargets(buf, decodeDmHeader(buf))).toEqual([
      { start: 0, length: 2048, type: 'linear', params: '7:1 2048' },
      { start: 2048, length: 4096, type: 'linear', params: '254:0 0' },
    ]);
  });

  it('a spec that does not advance ends the walk instead of looping', () => {
    const area = Buffer.alloc(48);
    area.writeBigUInt64LE(8n, 8);
    area.write('linear', 24, 'latin1');
    const buf = reply(area, { targetCount: 5 });
    expect(decodeTargets(buf, decodeDmHeader(buf))).toHaveLength(1);
  });
});

describe('name lists (DM_LIST_DEVICES)', () => {
  it('reads names, device numbers and uuids, with and without uuid', () => {
    // record 1: dev, next=40, "loop0p1\0" @12..20, aligned 24: event_nr, flags=HAS_UUID, uuid
    const area = Buffer.alloc(80);
    area.writeBigUInt64LE(BigInt(encodeDev({ major: 254, minor: 0 })), 0);
    area.writeUInt32LE(48, 8);
    area.write('loop0p1\0', 12, 'latin1');
    area.writeUInt32LE(3, 24);
    area.writeUInt32LE(1, 28);
    area.write('part1-x\0', 32, 'latin1');
    area.writeBigUInt64LE(BigInt(encodeDev({ major: 254, minor: 1 })), 48);
    area.writeUInt32LE(0, 56);
    area.write('vg-lv\0', 60, 'latin1');
    area.writeUInt32LE(0, 72);
    area.writeUInt32LE(2, 76);
    const buf = reply(area);
    expect(decodeNameList(buf, decodeDmHeader(buf))).toEqual([
      { name: 'loop0p1', devno: { major: 254, minor: 0 }, uuid: 'part1-x' },
      { name: 'vg-lv', devno: { major: 254, minor: 1 }, uuid: '' },
    ]);
  });

  it('a first record with dev 0 means no devices', () => {
    const buf = reply(Buffer.alloc(16));
    expect(decodeNameList(buf, decodeDmHeader(buf))).toEqual([]);
  });
});

describe('target versions, deps, rename', () => {
  it('reads LIST_VERSIONS records', () => {
    const area = Buffer.alloc(56);
    area.writeUInt32LE(24, 0);
    area.writeUInt32LE(1, 4);
    area.writeUInt32LE(4, 8);
    area.write('linear\0', 16, 'latin1');
    area.writeUInt32LE(0, 24);
    area.writeUInt32LE(1, 28);
    area.write('striped\0', 40, 'latin1');
    const buf = reply(area);
    expect(decodeVersionList(buf, decodeDmHeader(buf))).toEqual([
      { name: 'linear', version: [1, 4, 0] },
      { name: 'striped', version: [1, 0, 0] },
    ]);
  });

  it('reads TABLE_DEPS device numbers', () => {
    const area = Buffer.alloc(24);
    area.writeUInt32LE(2, 0);
    area.writeBigUInt64LE(BigInt(encodeDev({ major: 7, minor: 0 })), 8);
    area.writeBigUInt64LE(BigInt(encodeDev({ major: 8, minor: 16 })), 16);
    const buf = reply(area);
    expect(decodeDeps(buf, decodeDmHeader(buf))).toEqual([
      { major: 7, minor: 0 },
      { major: 8, minor: 16 },
    ]);
  });

  it('encodes the new name NUL-terminated and padded to 8', () => {
    expect(encodeRename('loop0p1', false)).toEqual(Buffer.from('loop0p1\0', 'latin1'));
    expect(encodeRename('loop0-part12', false).length).toBe(16);
    expect(() => encodeRename('n'.repeat(128), false)).toThrow(/longer/);
  });
});
