/**
 * LUKS on this host, which has loop devices but no device-mapper: a real LUKS2 header made by
 * cryptsetup in partition 1 of an image. `kpartx-tui mount IMAGE:1` must refuse, naming the
 * missing device-mapper, before asking a passphrase, and leave no loop, map or record; passwd the
 * same. (The open itself runs in the QEMU guest: test/dm/luks.dmtest.ts.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/engine/backends/select.js';
import { NO_DM_CRYPT } from '../src/engine/workflow/luks.js';
import { findCryptsetup } from '../src/kernel/cryptsetup.js';
import { createMachine } from '../src/kernel/machine.js';
import { type MountFaceDeps, mountMain } from '../src/mount/main.js';
import { passwdMain } from '../src/mount/passwd.js';
import { canUseLoop, cleanupLoops, loopSkipReason, losetupLines } from './loop-helpers.js';

const machine = createMachine();
const noDm = !machine.deviceMapperPresent();
const tools = findCryptsetup() !== undefined && noDm;

describe.skipIf(!canUseLoop || !tools)(
  `LUKS without device-mapper (${canUseLoop ? (tools ? 'real' : 'needs cryptsetup and a kernel without device-mapper') : loopSkipReason})`,
  () => {
    let dir: string;
    let image: string;
    let savedRunDir: string | undefined;
    const asked: string[] = [];
    const out = { stdout: '', stderr: '' };
    const deps: MountFaceDeps = {
      machine,
      makeBackend: loadBackend,
      stdout: (text) => {
        out.stdout += text;
      },
      stderr: (text) => {
        out.stderr += text;
      },
      readPassphrase: async (what) => {
        asked.push(what);
        return 'pw';
      },
    };

    beforeAll(() => {
      dir = mkdtempSync('/tmp/kpt-luks-host-');
      savedRunDir = process.env.KPARTX_TUI_RUN_DIR;
      process.env.KPARTX_TUI_RUN_DIR = join(dir, 'run');
      image = join(dir, 'crypt.img');
      execFileSync('truncate', ['-s', '24M', image]);
      execFileSync('sgdisk', ['-n1:2048:+20M', image], { stdio: 'ignore' });
      const part = join(dir, 'part.bin');
      execFileSync('truncate', ['-s', '20M', part]);
      // A plain file needs no device-mapper for luksFormat.
      execFileSync(
        'cryptsetup',
        [
          'luksFormat',
          '-q',
          '--type',
          'luks2',
          '--pbkdf',
          'pbkdf2',
          '--pbkdf-force-iterations',
          '1000',
          '--key-file',
          '-',
          part,
        ],
        { input: 'pw', stdio: ['pipe', 'ignore', 'pipe'] },
      );
      execFileSync('dd', [`if=${part}`, `of=${image}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none']);
      rmSync(part);
    });
    afterEach(() => {
      out.stdout = '';
      out.stderr = '';
      asked.length = 0;
      cleanupLoops(machine, dir);
    });
    afterAll(() => {
      cleanupLoops(machine, dir);
      if (savedRunDir === undefined) delete process.env.KPARTX_TUI_RUN_DIR;
      else process.env.KPARTX_TUI_RUN_DIR = savedRunDir;
      rmSync(dir, { recursive: true, force: true });
    });

    const nothingLeft = () => {
      expect(losetupLines(dir)).toEqual([]);
      expect(machine.mounts.list().filter((m) => m.target.startsWith(dir))).toEqual([]);
      const records = join(dir, 'run', 'mounts');
      expect(existsSync(records) ? readdirSync(records) : []).toEqual([]);
    };

    it('mount IMAGE:1 names the missing device-mapper, asks nothing and leaves nothing', async () => {
      expect(await mountMain([`${image}:1`], deps)).toBe(1);
      expect(out.stderr).toBe(`kpartx-tui mount: ${image}:1: ${NO_DM_CRYPT}\n`);
      expect(asked).toEqual([]);
      nothingLeft();
      // Without :N the LUKS partition is the one chosen, and refused the same way (--json too).
      expect(await mountMain([image, '--json'], deps)).toBe(1);
      expect(JSON.parse(out.stdout)).toEqual({ error: `mount: ${image}:1: ${NO_DM_CRYPT}` });
      nothingLeft();
    });

    it('passwd IMAGE:1 USER is refused the same way before asking the passphrase or the password', async () => {
      const order: string[] = [];
      const status = await passwdMain([`${image}:1`, 'root'], {
        ...deps,
        readPassphrase: async (what) => {
          order.push(`passphrase ${what}`);
          return 'pw';
        },
        readPassword: async (user) => {
          order.push(`password ${user}`);
          return 'n3w-Secret';
        },
      });
      expect(status).toBe(1);
      expect(order).toEqual([]);
      expect(out.stderr).toBe(`kpartx-tui passwd: ${image}:1: ${NO_DM_CRYPT}\n`);
      nothingLeft();
    });
  },
);
