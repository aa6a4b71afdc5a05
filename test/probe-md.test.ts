/**
 * md RAID members. This kernel has no md driver, so `mdadm --create` cannot run here: the
 * superblocks are written by hand from the on-disk format (md_p.h layout, mdadm's checksum),
 * and `blkid -p` on the same image is the referee.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeContent } from '../src/probe/index.js';
import { blkidProbe, fileDisk, haveTool, run } from './probe-helpers.js';
import { memoryDisk } from './support/memory-disk.js';

const MiB = 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'probe-md-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const uuidBytes = (text: string) => Uint8Array.from(Buffer.from(text.replace(/-/g, ''), 'hex'));

/** A version-1 superblock (256 bytes + 2 per device role) with a valid checksum, for `superSector`. */
function v1Superblock(options: {
  superSector: number;
  name: string;
  setUuid: string;
  devUuid: string;
}): Uint8Array {
  const maxDev = 2;
  const sb = new Uint8Array(256 + maxDev * 2);
  const v = new DataView(sb.buffer);
  v.setUint32(0, 0xa92b4efc, true);
  v.setUint32(4, 1, true); // major version
  sb.set(uuidBytes(options.setUuid), 0x10);
  sb.set(Buffer.from(options.name, 'latin1'), 0x20);
  v.setBigUint64(0x40, 1700000000n, true); // ctime
  v.setUint32(0x48, 1, true); // raid1
  v.setBigUint64(0x50, 2048n, true); // used size, sectors
  v.setUint32(0x5c, 2, true); // raid disks
  v.setBigUint64(0x88, 2048n, true); // data size
  v.setBigUint64(0x90, BigInt(options.superSector), true);
  sb.set(uuidBytes(options.devUuid), 0xa8);
  v.setBigUint64(0xc8, 1n, true); // events
  v.setBigUint64(0xd0, 0xffffffffffffffffn, true); // resync offset: in sync
  v.setUint32(0xdc, maxDev, true);
  v.setUint16(0x100, 0, true); // role of device 0
  v.setUint16(0x102, 1, true);
  let sum = 0n;
  for (let i = 0; i < sb.length; i += 4) sum += BigInt(v.getUint32(i, true));
  v.setUint32(0xd8, Number(((sum & 0xffffffffn) + (sum >> 32n)) & 0xffffffffn), true);
  return sb;
}

/** A 0.90 superblock (little-endian host layout) for a member of `size` bytes. */
function v090Superblock(size: number): { at: number; bytes: Uint8Array } {
  const at = Math.floor(size / 0x10000) * 0x10000 - 0x10000;
  const sb = new Uint8Array(4096);
  const v = new DataView(sb.buffer);
  const words = [
    0xa92b4efc,
    0,
    90,
    0,
    0,
    0x11223344,
    1700000000,
    1,
    at / 1024,
    2,
    2,
    0,
    0,
    0x55667788,
    0x99aabbcc,
    0xddeeff00,
  ];
  words.forEach((w, i) => {
    v.setUint32(i * 4, w, true);
  });
  return { at, bytes: sb };
}

function writeImage(name: string, size: number, parts: Array<{ at: number; bytes: Uint8Array }>): string {
  const path = join(work, name);
  writeFileSync(path, '');
  truncateSync(path, size);
  const image = new Uint8Array(size);
  for (const { at, bytes } of parts) image.set(bytes, at);
  writeFileSync(path, image);
  return path;
}

function probePath(path: string) {
  const disk = fileDisk(path);
  try {
    return probeContent(disk, 0, disk.size);
  } finally {
    disk.close();
  }
}

const SET = '0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9';
const DEV = 'f0e1d2c3-b4a5-9687-7869-5a4b3c2d1e0f';

describe('md RAID member superblocks', () => {
  const size = 8 * MiB;
  const layouts = [
    { version: '1.0', at: Math.floor(size / 4096) * 4096 - 8192 },
    { version: '1.1', at: 0 },
    { version: '1.2', at: 4096 },
  ];
  for (const { version, at } of layouts) {
    it(`finds a ${version} superblock at byte ${at}, with name, array UUID and device UUID`, () => {
      const sb = v1Superblock({ superSector: at / 512, name: 'host:data', setUuid: SET, devUuid: DEV });
      const path = writeImage(`md${version}.img`, size, [{ at, bytes: sb }]);
      const info = probePath(path);
      expect(info).toMatchObject({
        type: 'linux_raid_member',
        usage: 'raid',
        version,
        label: 'host:data',
        uuid: SET,
        uuidSub: DEV,
        mountable: false,
      });
      expect(info?.hint).toContain('mdadm --assemble');
      if (haveTool('blkid')) {
        const ref = blkidProbe(path);
        expect(ref.type).toBe('linux_raid_member');
        expect(ref.uuid).toBe(info?.uuid);
        expect(ref.uuidSub).toBe(info?.uuidSub);
        expect(new TextDecoder().decode(ref.label)).toBe(info?.label);
      }
    });
  }

  it('rejects a 1.2 superblock whose checksum does not match', () => {
    const sb = v1Superblock({ superSector: 8, name: 'x', setUuid: SET, devUuid: DEV });
    sb[0x20] = 0x79; // name changed after the checksum was computed
    const image = new Uint8Array(size);
    image.set(sb, 4096);
    expect(probeContent(memoryDisk(image), 0, size)).toBeNull();
  });

  it('rejects a superblock that records another position (a stale copy)', () => {
    const image = new Uint8Array(size);
    image.set(v1Superblock({ superSector: 0, name: 'x', setUuid: SET, devUuid: DEV }), 4096);
    expect(probeContent(memoryDisk(image), 0, size)).toBeNull();
  });

  it('finds a 0.90 superblock at the end, printing its UUID words as blkid does', () => {
    const path = writeImage('md090.img', size, [v090Superblock(size)]);
    const info = probePath(path);
    expect(info).toMatchObject({
      type: 'linux_raid_member',
      version: '0.90.0',
      uuid: '11223344-5566-7788-99aa-bbccddeeff00', // the words as mdadm prints them
    });
    if (haveTool('blkid')) {
      const ref = blkidProbe(path);
      expect(ref.type).toBe('linux_raid_member');
      expect(ref.uuid).toBe(info?.uuid);
    }
  });

  it.skipIf(!haveTool('mkfs.ext4'))('reports an md 1.0 mirror member, not the ext4 it contains', () => {
    const path = join(work, 'md10-ext4.img');
    writeFileSync(path, '');
    truncateSync(path, size);
    run('mkfs.ext4', ['-q', '-F', '-L', 'mirrored', path, '7M']);
    const disk = fileDisk(path);
    const bytes = disk.readAt(0, size);
    disk.close();
    const image = Uint8Array.from(bytes);
    const at = Math.floor(size / 4096) * 4096 - 8192;
    image.set(v1Superblock({ superSector: at / 512, name: 'host:root', setUuid: SET, devUuid: DEV }), at);
    writeFileSync(path, image);
    expect(probePath(path)).toMatchObject({ type: 'linux_raid_member', version: '1.0', label: 'host:root' });
    if (haveTool('blkid')) expect(blkidProbe(path).type).toBe('linux_raid_member');
  });
});
