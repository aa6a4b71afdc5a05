/**
 * `kpartx-tui passwd` on real device-mapper (the QEMU guest): the Debian-like root of a GPT image
 * is mapped as a dm linear map, looked at read-only, then root's password is written and every
 * map and loop taken back. debugfs reads the image afterwards (no mount): only root's shadow line
 * changed, with a hash OpenSSL verifies, shadow- holds the old file and passwd is as it was. A user
 * that is not there changes nothing and leaves nothing.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DEBIAN_PASSWD,
  DEBIAN_SHADOW,
  debugfsCat,
  makeDebianRootImage,
  OLD_ROOT_HASH,
} from '../support/debian-root-image.js';
import { opensslSha512 } from '../support/independent.js';
import { boundLoops, dmTables, inGuest, resetGuest, run, skipReason, workDir } from './guest.js';

const KPARTX_TUI = path.resolve(import.meta.dirname, '../../bin/kpartx-tui.js');
const tui = (input: string, ...args: string[]) => run(process.execPath, [KPARTX_TUI, ...args], input);
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe.skipIf(!inGuest)(`kpartx-tui passwd on device-mapper (${skipReason})`, () => {
  const dir = path.join(workDir, 'passwd');
  let image = '';
  beforeAll(() => {
    process.env.KPARTX_TUI_RUN_DIR = path.join(dir, 'run');
    resetGuest();
    fs.mkdirSync(dir, { recursive: true });
  });
  afterEach(() => resetGuest());
  afterAll(() => {
    resetGuest();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const expectNothingLeft = () => {
    expect(dmTables().size).toBe(0);
    expect(boundLoops()).toEqual([]);
    const records = path.join(dir, 'run', 'mounts');
    expect(fs.existsSync(records) ? fs.readdirSync(records) : []).toEqual([]);
  };

  it('writes root’s line through dm maps and takes every map and loop back', () => {
    image = makeDebianRootImage(dir);
    const result = tui('N3w-dm-Secret\n', 'passwd', `${image}:1`, 'root', '--json');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).not.toContain('N3w-dm-Secret');
    expect(JSON.parse(result.stdout)).toMatchObject({ user: 'root', partition: 1, line: 1 });
    expectNothingLeft();
    const shadow = debugfsCat(image, '/etc/shadow').split('\n');
    const hash = shadow[0]!.split(':')[1]!;
    expect(hash).not.toBe(OLD_ROOT_HASH);
    expect(opensslSha512('N3w-dm-Secret', hash)).toBe(hash);
    expect(shadow[0]!.replace(hash, 'H')).toBe('root:H:19800:0:99999:7:::');
    expect(shadow.slice(1).join('\n')).toBe(DEBIAN_SHADOW.split('\n').slice(1).join('\n'));
    expect(debugfsCat(image, '/etc/shadow-')).toBe(DEBIAN_SHADOW);
    expect(debugfsCat(image, '/etc/passwd')).toBe(DEBIAN_PASSWD);
  });

  it('a user that is not there changes nothing and leaves nothing', () => {
    const before = sha256(image);
    const result = tui('whatever\n', 'passwd', `${image}:1`, 'nobody-here');
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('kpartx-tui passwd: /etc/passwd: no account named nobody-here\n');
    expect(sha256(image)).toBe(before);
    expectNothingLeft();
  });
});
