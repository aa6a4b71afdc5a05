/**
 * `kpartx-tui passwd` for real, with loop devices on this host: an ext4 root made by mkfs.ext4 -d
 * from a Debian-like tree inside a GPT image. --list shows the system and accounts (no hash); a
 * piped password changes exactly root's shadow line (checked by debugfs without mounting, the
 * hash by OpenSSL), keeps the old file as shadow-, and leaves no loop, mount or record; a wrong
 * user changes nothing at all (the image's checksum stays). The terminal prompt is tested on a
 * stand-in terminal: echo off, asked twice, a mismatch refused.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/engine/backends/select.js';
import type { Machine } from '../src/engine/machine.js';
import { createMachine } from '../src/kernel/machine.js';
import { type PasswdDeps, passwdMain } from '../src/mount/passwd.js';
import { askNewPassword, pipedLines } from '../src/mount/password-input.js';
import { canUseLoop, cleanupLoops, loopSkipReason, losetupLines } from './loop-helpers.js';
import {
  DEBIAN_PASSWD,
  DEBIAN_SHADOW,
  debianRootToolsMissing,
  debugfsCat as debugfsRead,
  makeDebianRootImage,
  OLD_ROOT_HASH,
} from './support/debian-root-image.js';
import { opensslSha512 } from './support/independent.js';

const missingTools = debianRootToolsMissing();
const tools = missingTools === '';

describe.skipIf(!canUseLoop || !tools)(
  `kpartx-tui passwd with loop devices (${canUseLoop ? (tools ? 'real' : `needs ${missingTools}`) : loopSkipReason})`,
  () => {
    let dir: string;
    let image: string;
    let machine: Machine;
    let savedRunDir: string | undefined;

    const debugfsCat = (path: string): string => debugfsRead(image, path);
    const sha256 = () => createHash('sha256').update(readFileSync(image)).digest('hex');

    const run = async (args: string[], password = '') => {
      const out = { stdout: '', stderr: '' };
      const deps: PasswdDeps = {
        machine,
        makeBackend: loadBackend,
        stdout: (text) => {
          out.stdout += text;
        },
        stderr: (text) => {
          out.stderr += text;
        },
        readPassword: async () => password,
      };
      const status = await passwdMain(args, deps);
      return { status, ...out };
    };

    function expectNothingLeft(): void {
      expect(losetupLines(dir)).toEqual([]);
      expect(machine.mounts.list().filter((m) => m.target.startsWith(dir))).toEqual([]);
      const records = join(dir, 'run', 'mounts');
      expect(existsSync(records) ? readdirSync(records) : []).toEqual([]);
    }

    beforeAll(() => {
      dir = mkdtempSync('/tmp/kpt-passwd-');
      savedRunDir = process.env.KPARTX_TUI_RUN_DIR;
      process.env.KPARTX_TUI_RUN_DIR = join(dir, 'run');
      machine = createMachine();
      image = makeDebianRootImage(dir);
    });

    afterEach(() => cleanupLoops(machine, dir));

    afterAll(() => {
      cleanupLoops(machine, dir);
      if (savedRunDir === undefined) delete process.env.KPARTX_TUI_RUN_DIR;
      else process.env.KPARTX_TUI_RUN_DIR = savedRunDir;
      rmSync(dir, { recursive: true, force: true });
    });

    it('--list names the system and its accounts, never a hash, and changes nothing', async () => {
      const before = sha256();
      const listed = await run([image, '--list']);
      expect(listed.stderr).toBe('');
      expect(listed.status).toBe(0);
      expect(listed.stdout).toContain('System: Debian GNU/Linux 12 root · host bookworm-vm');
      expect(listed.stdout).toMatch(/^root\s+0\s+\/bin\/bash\s+set \(SHA-512\)/m);
      expect(listed.stdout).toMatch(/^debian\s+1000\s+\/bin\/bash\s+locked/m);
      expect(listed.stdout).not.toContain('$6$');
      const json = JSON.parse((await run([`${image}:1`, '--list', '--json'])).stdout);
      expect(json.system.label).toBe('Debian GNU/Linux 12 root');
      expect(json.accounts.map((a: { name: string }) => a.name)).toEqual(['root', 'debian']);
      expect(JSON.stringify(json)).not.toContain('$6$');
      expect(sha256()).toBe(before);
      expectNothingLeft();
    });

    it('a wrong user fails before anything is mounted read-write: the image is unchanged', async () => {
      const before = sha256();
      const result = await run([`${image}:1`, 'nobody'], 'S3cret-pw');
      expect(result.status).toBe(1);
      expect(result.stderr).toBe('kpartx-tui passwd: /etc/passwd: no account named nobody\n');
      expect(sha256()).toBe(before);
      expectNothingLeft();
    });

    it('writes the one line: a hash OpenSSL verifies, shadow- the old file, passwd as it was', async () => {
      const result = await run([`${image}:1`, 'root', '--json'], 'n3w-Secret');
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const said = JSON.parse(result.stdout);
      expect(said).toMatchObject({ user: 'root', partition: 1, scheme: 'sha512crypt', line: 1 });
      expect(result.stdout).not.toContain('n3w-Secret');
      const shadow = debugfsCat('/etc/shadow').split('\n');
      const hash = shadow[0]!.split(':')[1]!;
      expect(hash).not.toBe(OLD_ROOT_HASH);
      expect(opensslSha512('n3w-Secret', hash)).toBe(hash);
      expect(shadow[0]!.replace(hash, 'H')).toBe('root:H:19800:0:99999:7:::');
      expect(shadow.slice(1).join('\n')).toBe('debian:!:19800:0:99999:7:::\n');
      expect(debugfsCat('/etc/shadow-')).toBe(DEBIAN_SHADOW);
      expect(debugfsCat('/etc/passwd')).toBe(DEBIAN_PASSWD);
      // e2fsck takes no offset: it checks a copy of the filesystem's bytes.
      const copy = join(dir, 'fs.copy');
      execFileSync('dd', [`if=${image}`, `of=${copy}`, 'bs=512', 'skip=2048', 'count=49152', 'status=none']);
      expect(spawnSync('e2fsck', ['-fn', copy]).status).toBe(0);
      rmSync(copy);
      expectNothingLeft();
    });
  },
);

describe('where passwd gets the password', () => {
  it('reads piped stdin a line at a time (the passphrase, then the password) and refuses an empty one', async () => {
    const input = new PassThrough();
    input.end('pass phrase\r\npw with spaces\n\n');
    const next = pipedLines(input);
    expect(await next()).toBe('pass phrase');
    expect(await next()).toBe('pw with spaces');
    await expect(next()).rejects.toThrow('stdin gave an empty line');
  });

  /** A terminal stand-in: raw mode recorded, keys fed as the user types them, prompts collected. */
  function terminal(keys: string[]) {
    const input = Object.assign(new PassThrough(), {
      isRaw: false,
      isTTY: true,
      setRawMode(this: { isRaw: boolean }, raw: boolean) {
        this.isRaw = raw;
        return this;
      },
    }) as unknown as NodeJS.ReadStream;
    let shown = '';
    const output = {
      write: (text: string) => {
        shown += text;
        return true;
      },
    } as unknown as NodeJS.WriteStream;
    let next = 0;
    const feed = () => {
      if (next < keys.length) input.emit('data', Buffer.from(keys[next++]!));
      if (next < keys.length) setTimeout(feed, 5);
    };
    setTimeout(feed, 5);
    return {
      terminal: { input, output },
      shown: () => shown,
      raw: () => (input as unknown as { isRaw: boolean }).isRaw,
    };
  }

  it('asks twice with nothing echoed; Backspace edits; raw mode is given back', async () => {
    const t = terminal(['s3cr', 'x\x7f', 't\r', 's3crt\r']);
    expect(await askNewPassword(t.terminal, 'root')).toBe('s3crt');
    expect(t.shown()).toBe('New password for root: \nRetype new password for root: \n');
    expect(t.raw()).toBe(false);
  });

  it('refuses two different entries and Ctrl-C', async () => {
    await expect(askNewPassword(terminal(['one\r', 'two\r']).terminal, 'root')).rejects.toThrow(
      'the two passwords differ: nothing was changed',
    );
    await expect(askNewPassword(terminal(['on\x03']).terminal, 'root')).rejects.toThrow(
      'interrupted by SIGINT',
    );
  });
});
