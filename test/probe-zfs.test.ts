/**
 * ZFS pool members. ZFS tools are not in Debian main, so the vdev labels are written by hand from
 * the on-disk format (XDR nvlist at +16 KiB, uberblock ring at +128 KiB) and `blkid -p` on the
 * same image is the referee. util-linux's real zfs image is covered by probe-corpus.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeContent } from '../src/probe/index.js';
import { blkidProbe, haveTool } from './probe-helpers.js';
import { memoryDisk } from './support/memory-disk.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const LABEL = 256 * KiB;
const work = mkdtempSync(join(tmpdir(), 'probe-zfs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** One XDR nvpair: encoded size, decoded size, name, type, element count, value. */
function nvpair(name: string, type: 'string' | 'uint64', value: string | bigint): Uint8Array {
  const pad = (n: number) => (n + 3) & ~3;
  const nameBytes = Buffer.from(name);
  const valueBytes =
    type === 'string'
      ? (() => {
          const s = Buffer.from(value as string);
          const b = Buffer.alloc(4 + pad(s.length));
          b.writeUInt32BE(s.length, 0);
          s.copy(b, 4);
          return b;
        })()
      : (() => {
          const b = Buffer.alloc(8);
          b.writeBigUInt64BE(value as bigint);
          return b;
        })();
  const size = 12 + pad(nameBytes.length) + 8 + valueBytes.length;
  const out = Buffer.alloc(size);
  out.writeUInt32BE(size, 0);
  out.writeUInt32BE(size, 4);
  out.writeUInt32BE(nameBytes.length, 8);
  nameBytes.copy(out, 12);
  let at = 12 + pad(nameBytes.length);
  out.writeUInt32BE(type === 'string' ? 9 : 8, at);
  out.writeUInt32BE(1, at + 4);
  at += 8;
  valueBytes.copy(out, at);
  return out;
}

function vdevLabel(pool: string, poolGuid: bigint, guid: bigint, uberblocks: number): Uint8Array {
  const label = new Uint8Array(LABEL);
  const header = Buffer.from([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]); // XDR, little-endian host, version 0, unique names
  const pairs = [
    nvpair('version', 'uint64', 5000n),
    nvpair('name', 'string', pool),
    nvpair('state', 'uint64', 0n),
    nvpair('pool_guid', 'uint64', poolGuid),
    nvpair('top_guid', 'uint64', 1234n),
    nvpair('guid', 'uint64', guid),
  ];
  label.set(Buffer.concat([header, ...pairs, Buffer.alloc(8)]), 16 * KiB);
  const view = new DataView(label.buffer);
  for (let i = 0; i < uberblocks; i++) {
    const at = 128 * KiB + i * KiB;
    view.setBigUint64(at, 0x00bab10cn, true);
    view.setBigUint64(at + 8, 5000n, true); // SPA version
    view.setBigUint64(at + 16, BigInt(i + 1), true); // txg
  }
  return label;
}

function poolImage(size: number, uberblocksPerLabel: number): Uint8Array {
  const image = new Uint8Array(size);
  const aligned = size - (size % LABEL);
  const label = vdevLabel('tank', 1782036546311300980n, 13179280127379850514n, uberblocksPerLabel);
  for (const at of [0, LABEL, aligned - 2 * LABEL, aligned - LABEL]) image.set(label, at);
  return image;
}

describe('ZFS pool member labels', () => {
  it('reports pool name, pool GUID and vdev GUID in decimal, like blkid', () => {
    const image = poolImage(64 * MiB + 100 * KiB, 2);
    const info = probeContent(memoryDisk(image), 0, image.length);
    expect(info).toMatchObject({
      type: 'zfs_member',
      label: 'tank',
      uuid: '1782036546311300980',
      uuidSub: '13179280127379850514',
      version: '5000',
      mountable: false,
    });
    expect(info?.hint).toBe('import with `zpool import -d /dev/mapper tank`');
    if (haveTool('blkid')) {
      const path = join(work, 'pool.img');
      writeFileSync(path, image);
      const ref = blkidProbe(path);
      expect(ref.type).toBe('zfs_member');
      expect(ref.uuid).toBe(info?.uuid);
      expect(ref.uuidSub).toBe(info?.uuidSub);
      expect(new TextDecoder().decode(ref.label)).toBe(info?.label);
    }
  });

  it('wants four uberblocks in all before calling it ZFS', () => {
    const image = poolImage(64 * MiB, 0);
    expect(probeContent(memoryDisk(image), 0, image.length)).toBeNull();
  });

  it('ignores partitions smaller than 64 MiB, as blkid does', () => {
    const image = poolImage(32 * MiB, 4);
    expect(probeContent(memoryDisk(image), 0, image.length)).toBeNull();
  });
});
