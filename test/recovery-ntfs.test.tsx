/**
 * A Windows volume that must not be written: the NTFS dirty flag ($VOLUME_INFORMATION of $Volume,
 * read by the content probe on a real mkntfs volume with the flag set and cleared), a hibernated
 * hiberfil.sys (its `hibr` signature, any case, read 4 bytes deep), and the refusal the app shows.
 */
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDmBackend } from '../src/engine/backends/dm.js';
import { probeContent } from '../src/probe/index.js';
import { hiberfilState } from '../src/recovery/hibernation.js';
import { createTuiEngine } from '../src/tui/engine.js';
import { ntfsWriteRefusal } from '../src/tui/recovery-mount.js';
import { fileDisk, haveTool, run } from './probe-helpers.js';
import { FakeMachine } from './support/fake-machine.js';
import { keys, startApp } from './tui/helpers.js';
import { dosImage } from './tui/images.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kpartx-tui-ntfs-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The byte offset of the $VOLUME_INFORMATION flags in the image, found from the boot sector and the
 * attribute headers of MFT record 3 (written here from the NTFS layout, not from the probe).
 */
function volumeFlagsOffset(bytes: Buffer): number {
  const bytesPerSector = bytes.readUInt16LE(0x0b);
  const cluster = bytesPerSector * bytes[0x0d]!;
  const mft = Number(bytes.readBigUInt64LE(0x30)) * cluster;
  const perRecord = bytes.readInt8(0x40);
  const recordSize = perRecord > 0 ? perRecord * cluster : 2 ** -perRecord;
  const record = mft + 3 * recordSize;
  let at = record + bytes.readUInt16LE(record + 0x14);
  for (;;) {
    const type = bytes.readUInt32LE(at);
    if (type === 0xffffffff) throw new Error('no $VOLUME_INFORMATION in $Volume');
    if (type === 0x70) return at + bytes.readUInt16LE(at + 0x14) + 10;
    at += bytes.readUInt32LE(at + 4);
  }
}

function patch(path: string, offset: number, value: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(value);
    writeSync(fd, b, 0, 2, offset);
  } finally {
    closeSync(fd);
  }
}

function readAll(path: string, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}

function probe(path: string) {
  const disk = fileDisk(path);
  try {
    return probeContent(disk, 0, disk.size);
  } finally {
    disk.close();
  }
}

describe.skipIf(!haveTool('mkntfs'))('the NTFS dirty flag (real mkntfs volume)', () => {
  it('is read from $Volume: absent on a clean volume, set when the flag is', () => {
    const image = join(work, 'ntfs.img');
    writeFileSync(image, Buffer.alloc(0));
    run('truncate', ['-s', '16M', image]);
    run('mkntfs', ['-q', '-F', '-f', '-L', 'Win', image]);
    const clean = probe(image);
    expect(clean?.type).toBe('ntfs');
    expect(clean?.label).toBe('Win');
    expect(clean?.dirty).toBeUndefined();

    const offset = volumeFlagsOffset(readAll(image, 16 << 20));
    const flags = readAll(image, offset + 2).readUInt16LE(offset);
    patch(image, offset, flags | 0x0001);
    expect(probe(image)).toMatchObject({ type: 'ntfs', label: 'Win', dirty: true });
    patch(image, offset, flags);
    expect(probe(image)?.dirty).toBeUndefined();
  });
});

describe('hiberfil.sys', () => {
  const tree = (name: string, head: string | null) => {
    const root = mkdtempSync(join(work, 'tree-'));
    mkdirSync(join(root, 'Windows'));
    if (head !== null)
      writeFileSync(join(root, name), Buffer.concat([Buffer.from(head), Buffer.alloc(4096)]));
    return root;
  };

  it('is hibernated when it starts with hibr in any case, whatever the case of its name', () => {
    expect(hiberfilState(tree('hiberfil.sys', 'hibr'))).toBe('hibernated');
    expect(hiberfilState(tree('HIBERFIL.SYS', 'HIBR'))).toBe('hibernated');
    expect(hiberfilState(tree('hiberfil.sys', 'wake'))).toBe('not-hibernated');
    expect(hiberfilState(tree('hiberfil.sys', '\0\0\0\0'))).toBe('not-hibernated');
    expect(hiberfilState(tree('x', null))).toBe('absent');
  });

  it('gives the reason a read-write mount is refused', () => {
    expect(ntfsWriteRefusal('/dev/mapper/loop0p2', { dirty: false, hiberfil: 'hibernated' })).toMatch(
      /^loop0p2 not mounted read-write: Windows on it is hibernated .*shut it down fully/,
    );
    expect(ntfsWriteRefusal('/dev/mapper/loop0p2', { dirty: true, hiberfil: 'absent' })).toMatch(
      /^loop0p2 not mounted read-write: the NTFS volume is marked dirty .*chkdsk/,
    );
    expect(ntfsWriteRefusal('/dev/mapper/loop0p2', { dirty: false, hiberfil: 'not-hibernated' })).toBeNull();
  });
});

describe.skipIf(!haveTool('mkntfs'))(
  'the app with a Windows partition (real mkntfs volume, fake kernel)',
  () => {
    /** A DOS disk whose partition 1 is an 8 MiB NTFS, dirty or not; the "mounted" tree is a Windows one. */
    function setup(dirty: boolean) {
      const scratch = mkdtempSync(join(work, 'app-'));
      const volume = join(scratch, 'vol.img');
      run('truncate', ['-s', '8M', volume]);
      run('mkntfs', ['-q', '-F', '-f', '-L', 'Win', volume]);
      if (dirty) {
        const offset = volumeFlagsOffset(readAll(volume, 8 << 20));
        patch(volume, offset, readAll(volume, offset + 2).readUInt16LE(offset) | 1);
      }
      const image = dosImage(2048 + 16384 + 2048, [{ type: 0x07, start: 2048, size: 16384 }]);
      image.set(readAll(volume, 8 << 20), 2048 * 512);
      const kernel = new FakeMachine({ dmMajor: 250 });
      kernel.addFile('/img/win.img', image);
      const root = join(scratch, 'mnt', 'loop0p1');
      mkdirSync(join(root, 'Windows', 'System32', 'config'), { recursive: true });
      writeFileSync(join(root, 'Windows', 'System32', 'config', 'SAM'), 'regf');
      const engine = createTuiEngine({
        machine: kernel,
        isRoot: true,
        mountRoot: join(scratch, 'mnt'),
        cwd: scratch,
        backend: (_kind, k) => createDmBackend(k),
      });
      return { kernel, engine, root };
    }

    it('names the Windows system and refuses to write a dirty volume, saying why', async () => {
      const { kernel, engine } = setup(true);
      const t = startApp(engine, ['/img/win.img']);
      await t.waitFor('ntfs "Win"');
      // Direct mode: the maps are writable, so only the volume's own state can refuse a write.
      await t.press('r', 'read-only off');
      await t.press('a', /Create 1 map\?/);
      await t.press('y', /created and confirmed/);
      await t.press(keys.enter, 'dos table');
      await t.press('m', 'Mount read-only: yes');
      // Asked read-write straight away: looked at read-only first, then refused and unmounted.
      await t.press('r', 'Mount read-only: no');
      await t.press(keys.enter, /not mounted read-write: the NTFS volume is marked\s+dirty/);
      expect(kernel.mounts.list()).toEqual([]);
      await t.press('r', 'Mount read-only: yes');
      await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1 (ntfs3, read-only');
      await t.waitFor('System: Windows system');
      expect(t.frame()).toContain('chntpw');
      await t.press('w', /marked\s+dirty.*\n?.*chkdsk/);
      expect(kernel.mounts.list().map((m) => m.options)).toEqual(['ro,nosuid,nodev,noexec']);
      t.app.unmount();
    });

    it('mounts a clean, not hibernated volume read-write after looking at it read-only', async () => {
      const { kernel, engine } = setup(false);
      const t = startApp(engine, ['/img/win.img']);
      await t.waitFor('ntfs "Win"');
      // Direct mode: the maps are writable, so only the volume's own state can refuse a write.
      await t.press('r', 'read-only off');
      await t.press('a', /Create 1 map\?/);
      await t.press('y', /created and confirmed/);
      await t.press(keys.enter, 'dos table');
      await t.press('m', 'Mount read-only: yes');
      await t.press('r', 'Mount read-only: no');
      await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1 (ntfs3, read-write');
      expect(kernel.mounts.list().map((m) => m.options)).toEqual(['rw,nosuid,nodev,noexec']);
      const mounts = kernel.calls.filter((c) => c.startsWith('mount ') || c.startsWith('unmount '));
      expect(mounts.map((c) => c.split(' ')[0])).toEqual(['mount', 'unmount', 'mount']);
      t.app.unmount();
    });

    it('keeps a hibernated Windows read-only', async () => {
      const { kernel, engine, root } = setup(false);
      writeFileSync(join(root, 'hiberfil.sys'), 'hibr....');
      const t = startApp(engine, ['/img/win.img']);
      await t.waitFor('ntfs "Win"');
      // Direct mode: the maps are writable, so only the volume's own state can refuse a write.
      await t.press('r', 'read-only off');
      await t.press('a', /Create 1 map\?/);
      await t.press('y', /created and confirmed/);
      await t.press(keys.enter, 'dos table');
      await t.press('m', 'Mount read-only: yes');
      await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1 (ntfs3, read-only');
      await t.waitFor('hibernated: it stays read-only');
      await t.press('w', /Windows on it is hibernated/);
      expect(kernel.mounts.list().map((m) => m.options)).toEqual(['ro,nosuid,nodev,noexec']);
      t.app.unmount();
    });
  },
);
