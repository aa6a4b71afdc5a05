/**
 * Overlays with the real qemu-img on real files (no nbd needed): an overlay made over a raw and a
 * qcow2 image names the image as its backing file with its format; writes through it (qemu-io)
 * leave the image's checksum as it was; a discard deletes the overlay and the image is unchanged;
 * a commit writes the overlay's clusters into the image. An existing file or a symlink at the
 * overlay's path is never written. And on this host, whose kernel has no nbd, `kpartx-tui mount
 * --overlay` is refused with the reason before any overlay file is made.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/engine/backends/select.js';
import { endOverlay, readOverlay } from '../src/engine/workflow/overlay.js';
import { createMachine } from '../src/kernel/machine.js';
import { nbdPresent } from '../src/kernel/nbd.js';
import { createOverlayApi } from '../src/kernel/overlay.js';
import { mountMain } from '../src/mount/main.js';

const have = (tool: string) =>
  spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
const tools = have('qemu-img') && have('qemu-io');
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const qemuIo = (format: string, file: string, command: string) =>
  execFileSync('qemu-io', ['-f', format, '-c', command, file], { encoding: 'utf8' });
/** Whether `file` (as `format`) holds `pattern` bytes at 1 MiB: qemu-io's read -P fails otherwise. */
const holdsPattern = (format: string, file: string, pattern: string): boolean => {
  const said = spawnSync('qemu-io', ['-f', format, '-c', `read -P ${pattern} 1M 64k`, file], {
    encoding: 'utf8',
  });
  return said.stdout.includes('read 65536/65536') && !said.stdout.includes('Pattern verification failed');
};

describe.skipIf(!tools)('overlays made and committed by the real qemu-img (needs qemu-img, qemu-io)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpt-overlay-host-');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const api = createOverlayApi();
  const machine = createMachine();

  function image(format: 'raw' | 'qcow2', name: string): string {
    const file = join(dir, name);
    execFileSync('qemu-img', ['create', '-q', '-f', format, file, '8M']);
    qemuIo(format, file, 'write -P 0x11 0 4M');
    return file;
  }

  for (const format of ['raw', 'qcow2'] as const) {
    it(`over a ${format} image: writes stay in the overlay; discard leaves the image as it was; commit writes them into it`, async () => {
      const original = image(format, `disk-${format}.img`);
      const before = sha256(original);
      const overlay = join(dir, `disk-${format}.overlay.qcow2`);

      await api.create(overlay, original, format);
      const info = JSON.parse(
        execFileSync('qemu-img', ['info', '--output=json', overlay], { encoding: 'utf8' }),
      );
      expect(info).toMatchObject({
        format: 'qcow2',
        'backing-filename': original,
        'backing-filename-format': format,
      });
      expect(info['virtual-size']).toBe(8 * 1024 * 1024);
      expect(readOverlay(machine, overlay)).toEqual({ path: overlay, image: original, format });
      qemuIo('qcow2', overlay, 'write -P 0xab 1M 64k');
      expect(holdsPattern('qcow2', overlay, '0xab')).toBe(true);
      expect(sha256(original)).toBe(before);

      expect(await endOverlay(machine, readOverlay(machine, overlay), 'discard')).toContain('is as it was');
      expect(existsSync(overlay)).toBe(false);
      expect(sha256(original)).toBe(before);

      await api.create(overlay, original, format);
      qemuIo('qcow2', overlay, 'write -P 0xcd 1M 64k');
      expect(await endOverlay(machine, readOverlay(machine, overlay), 'commit')).toContain(
        `committed the overlay ${overlay} into ${original}`,
      );
      expect(existsSync(overlay)).toBe(false);
      expect(sha256(original)).not.toBe(before);
      expect(holdsPattern(format, original, '0xcd')).toBe(true);
      // Only the written clusters changed: the rest is as it was.
      expect(holdsPattern(format, original, '0x11')).toBe(false);
      expect(qemuIo(format, original, 'read -P 0x11 0 1M')).not.toContain('Pattern verification failed');
    });
  }

  it('never writes over an existing file or through a symlink, and leaves nothing when qemu-img fails', async () => {
    const original = image('raw', 'kept.img');
    const taken = join(dir, 'taken.qcow2');
    writeFileSync(taken, 'the user file');
    await expect(api.create(taken, original, 'raw')).rejects.toThrow(/EEXIST/);
    expect(readFileSync(taken, 'utf8')).toBe('the user file');
    const target = join(dir, 'target');
    writeFileSync(target, 'not to be touched');
    const link = join(dir, 'link.qcow2');
    symlinkSync(target, link);
    await expect(api.create(link, original, 'raw')).rejects.toThrow(/EEXIST/);
    expect(readFileSync(target, 'utf8')).toBe('not to be touched');
    const orphan = join(dir, 'orphan.qcow2');
    await expect(api.create(orphan, join(dir, 'missing.img'), 'raw')).rejects.toThrow(
      /qemu-img create failed/,
    );
    expect(existsSync(orphan)).toBe(false);
  });

  it.skipIf(nbdPresent())(
    'kpartx-tui mount --overlay on a kernel without nbd: refused with the reason, no overlay made',
    async () => {
      const original = image('raw', 'plain.img');
      const before = sha256(original);
      const out = { stdout: '', stderr: '' };
      const status = await mountMain([`${original}:1`, '--overlay'], {
        machine,
        makeBackend: loadBackend,
        stdout: (text) => {
          out.stdout += text;
        },
        stderr: (text) => {
          out.stderr += text;
        },
        mountRoot: join(dir, 'mnt'),
      });
      expect(status).toBe(1);
      expect(out.stderr).toBe(
        `kpartx-tui mount: ${original}: overlay mode attaches the overlay through nbd, and this kernel has no nbd (modprobe nbd failed)\n`,
      );
      expect(existsSync(`${original}.overlay.qcow2`)).toBe(false);
      expect(existsSync(join(dir, 'mnt'))).toBe(false);
      expect(sha256(original)).toBe(before);
    },
  );
});
