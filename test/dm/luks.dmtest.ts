/**
 * `kpartx-tui mount IMAGE:2` over LUKS2 on real device-mapper and dm-crypt (the QEMU guest): the
 * LUKS volume is made by cryptsetup itself, opened read-only with the passphrase on stdin, its
 * ext4 read back; umount leaves no dm map and no loop. A wrong passphrase leaves nothing either.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  boundLoops,
  dmTables,
  inGuest,
  resetGuest,
  run,
  sfdiskImage,
  sh,
  skipReason,
  workDir,
} from './guest.js';

const KPARTX_TUI = path.resolve(import.meta.dirname, '../../bin/kpartx-tui.js');
const tui = (input: string, ...args: string[]) => run(process.execPath, [KPARTX_TUI, ...args], input);
const PASSPHRASE = 'guest test passphrase';
const P2_START = 18432;
const P2_SECTORS = 49152; // 24 MiB: 16 MiB of LUKS2 header and keyslots, 8 MiB of ext4

/** Partition 2 holds LUKS2 (made by cryptsetup) around an ext4 holding hello.txt. */
function luksImage(): string {
  const image = sfdiskImage('luks', 40, `label: dos\n2048,16384,83\n${P2_START},${P2_SECTORS},83\n`);
  const part = `${image}.p2`;
  fs.writeFileSync(part, '');
  fs.truncateSync(part, P2_SECTORS * 512);
  const format = run(
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
    PASSPHRASE,
  );
  if (format.status !== 0) throw new Error(`luksFormat: ${format.stderr}`);
  const opened = run('cryptsetup', ['open', '--key-file', '-', part, 'kpt-setup'], PASSPHRASE);
  if (opened.status !== 0) throw new Error(`cryptsetup open: ${opened.stderr}`);
  const content = `${image}.content`;
  fs.mkdirSync(content, { recursive: true });
  fs.writeFileSync(path.join(content, 'hello.txt'), 'hello through dm-crypt\n');
  try {
    sh('mkfs.ext4', '-q', '-F', '-d', content, '/dev/mapper/kpt-setup');
  } finally {
    run('cryptsetup', ['close', 'kpt-setup']);
  }
  sh('dd', `if=${part}`, `of=${image}`, 'bs=512', `seek=${P2_START}`, 'conv=notrunc', 'status=none');
  fs.rmSync(part);
  resetGuest(); // the loop cryptsetup attached for the file
  return image;
}

describe.skipIf(!inGuest)(`kpartx-tui mount over LUKS on dm-crypt (${skipReason})`, () => {
  const runDir = path.join(workDir, 'luks-run');
  let image: string;
  beforeAll(() => {
    process.env.KPARTX_TUI_RUN_DIR = runDir;
    resetGuest();
    image = luksImage();
  });
  afterEach(() => {
    for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const target = line.split(' ')[1];
      if (target?.startsWith(`${workDir}/`) || target?.startsWith(`${runDir}/`)) run('umount', [target]);
    }
    resetGuest();
  });
  afterAll(() => resetGuest());

  it('opens partition 2 read-only with the passphrase on stdin, reads the file, and umount leaves nothing', () => {
    const mounted = tui(`${PASSPHRASE}\n`, 'mount', `${image}:2`, '--json');
    expect(mounted.stderr).toBe('');
    expect(mounted.status).toBe(0);
    const result = JSON.parse(mounted.stdout);
    expect(result).toMatchObject({ backend: 'dm', readOnly: true, fstype: 'ext4', partition: 2 });
    expect(result.luks).toBe(`${result.maps[0]}-luks`);
    expect(result.device).toBe(`/dev/mapper/${result.luks}`);
    const tables = dmTables();
    expect([...tables.keys()]).toEqual([result.maps[0], result.luks]);
    expect(tables.get(result.luks)).toMatch(/ crypt aes-xts-plain64 /);
    expect(run('blockdev', ['--getro', result.device]).stdout.trim()).toBe('1');
    expect(fs.readFileSync(path.join(result.mountpoint, 'hello.txt'), 'utf8')).toBe(
      'hello through dm-crypt\n',
    );
    const umounted = tui('', 'umount', result.mountpoint, '--json');
    expect(umounted.status).toBe(0);
    expect(JSON.parse(umounted.stdout)).toMatchObject({ luks: result.luks, maps: [result.maps[0]] });
    expect(sh('dmsetup', 'ls').trim()).toBe('No devices found');
    expect(dmTables().size).toBe(0);
    expect(boundLoops()).toEqual([]);
    expect(fs.readdirSync('/dev/mapper')).toEqual(['control']);
  });

  it('a wrong passphrase fails with cryptsetup`s reason and leaves nothing', () => {
    const mounted = tui('not the passphrase\n', 'mount', `${image}:2`);
    expect(mounted.status).toBe(1);
    expect(mounted.stderr).toContain(
      `${image}:2: cryptsetup open failed: No key available with this passphrase.`,
    );
    expect(dmTables().size).toBe(0);
    expect(boundLoops()).toEqual([]);
    expect(
      fs.existsSync(path.join(runDir, 'mounts')) ? fs.readdirSync(path.join(runDir, 'mounts')) : [],
    ).toEqual([]);
  });
});
