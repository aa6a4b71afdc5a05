#!/usr/bin/env node
/**
 * npm run screenshots: runs the real kpartx-tui in an 80x24 tmux session on a demo image, drives
 * it through its main screens, then on a qcow2 VM disk (GPT, LVM, a Rocky Linux root LV) and its
 * conversion to raw, and renders each screen to screenshots/<name>.png.
 *
 * Pipeline: tmux capture-pane -e (text with colours) → @xterm/headless (a terminal emulator, so
 * cursor moves and attributes end up exactly where a terminal puts them) → an SVG with one glyph
 * per cell → @resvg/resvg-js with DejaVu Sans Mono → PNG.
 *
 * Needs root, loop devices, tmux, sgdisk, mkfs.ext4, lvm2 and qemu-img (the flows map and mount for
 * real; lvm2 writes metadata only, without device-mapper), and a build (`npm run build`). Everything it creates is removed at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import xterm from '@xterm/headless';

const { Terminal } = xterm;
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(repo, 'screenshots');
const COLS = 80;
const ROWS = 24;
const CELL_W = 9;
const CELL_H = 18;
const FONT_SIZE = 15;
const PAD = 12;
const FONTS = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf',
];
const session = `kpartx-tui-shots-${process.pid}`;

// A dark theme's 16 colours (readable on the dark background), then the 6x6x6 cube and the grey ramp.
const BASE16 = [
  '#000000',
  '#e05561',
  '#8cc265',
  '#d18f52',
  '#6cb6ff',
  '#c678dd',
  '#42b3c2',
  '#e6e6e6',
  '#7f848e',
  '#ff616e',
  '#a5e075',
  '#f0a45d',
  '#8cc8ff',
  '#de73ff',
  '#4cd1e0',
  '#ffffff',
];
const FG = '#d0d0d0';
const BG = '#1c1c1c';

function paletteColour(index) {
  if (index < 16) return BASE16[index];
  if (index < 232) {
    const i = index - 16;
    const level = (v) => (v === 0 ? 0 : 55 + v * 40);
    const hex = (v) => level(v).toString(16).padStart(2, '0');
    return `#${hex(Math.floor(i / 36))}${hex(Math.floor(i / 6) % 6)}${hex(i % 6)}`;
  }
  const grey = (8 + (index - 232) * 10).toString(16).padStart(2, '0');
  return `#${grey}${grey}${grey}`;
}

function colourOf(cell, which) {
  const isDefault = which === 'fg' ? cell.isFgDefault() : cell.isBgDefault();
  if (isDefault) return undefined;
  const value = which === 'fg' ? cell.getFgColor() : cell.getBgColor();
  const isRgb = which === 'fg' ? cell.isFgRGB() : cell.isBgRGB();
  return isRgb ? `#${value.toString(16).padStart(6, '0')}` : paletteColour(value);
}

const escapeXml = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The emulated screen as SVG: a rect per coloured background, a text element per glyph. */
function screenToSvg(term) {
  const width = COLS * CELL_W + 2 * PAD;
  const height = ROWS * CELL_H + 2 * PAD;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="${BG}" rx="6"/>`,
    `<g font-family="DejaVu Sans Mono" font-size="${FONT_SIZE}">`,
  ];
  const buffer = term.buffer.active;
  const cell = buffer.getNullCell();
  for (let y = 0; y < ROWS; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    if (!line) continue;
    for (let x = 0; x < COLS; x++) {
      line.getCell(x, cell);
      const chars = cell.getChars();
      const cellWidth = cell.getWidth();
      if (cellWidth === 0) continue;
      let fg = colourOf(cell, 'fg') ?? FG;
      let bg = colourOf(cell, 'bg');
      if (cell.isInverse()) [fg, bg] = [bg ?? BG, fg];
      if (cell.isDim()) fg = `${fg}99`.slice(0, 9);
      const px = PAD + x * CELL_W;
      const py = PAD + y * CELL_H;
      if (bg)
        parts.push(
          `<rect x="${px}" y="${py}" width="${CELL_W * cellWidth}" height="${CELL_H}" fill="${bg}"/>`,
        );
      if (!chars || chars === ' ') continue;
      const weight = cell.isBold() ? ' font-weight="bold"' : '';
      const underline = cell.isUnderline() ? ' text-decoration="underline"' : '';
      parts.push(
        `<text x="${px}" y="${py + CELL_H - 5}" fill="${fg.length === 9 ? fg.slice(0, 7) : fg}"${fg.length === 9 ? ' fill-opacity="0.6"' : ''}${weight}${underline}>${escapeXml(chars)}</text>`,
      );
    }
  }
  parts.push('</g></svg>');
  return parts.join('\n');
}

function writeToTerminal(term, data) {
  return new Promise((done) => term.write(data, done));
}

async function capture(name) {
  // -e keeps colours and attributes; -J would join wrapped lines, which we do not want.
  const ansi = execFileSync('tmux', ['capture-pane', '-t', session, '-e', '-p'], { encoding: 'utf8' });
  const term = new Terminal({ cols: COLS, rows: ROWS, convertEol: true, allowProposedApi: true });
  await writeToTerminal(term, ansi.replace(/\n$/, ''));
  const svg = screenToSvg(term);
  const png = new Resvg(svg, {
    font: { fontFiles: FONTS, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans Mono' },
  })
    .render()
    .asPng();
  writeFileSync(join(outDir, `${name}.png`), png);
  term.dispose();
  console.log(`screenshots/${name}.png`);
}

const tmux = (...args) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-t', session, '-p');

/** The app in the 80x24 session, in `dir`, with live frames, colour and a plain shell for `s`. */
function startApp(dir, command) {
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    String(COLS),
    '-y',
    String(ROWS),
    '-c',
    dir,
    '-e',
    'CI=false',
    '-e',
    'FORCE_COLOR=3',
    '-e',
    'TERM=xterm-256color',
    '-e',
    'SHELL=/bin/sh',
    command,
  );
}

async function waitFor(text, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = screen();
    if (typeof text === 'string' ? last.includes(text) : text.test(last)) {
      // Let the frame settle (Ink may still be writing its last lines).
      await new Promise((r) => setTimeout(r, 150));
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${text}; the screen was:\n${last}`);
}

async function press(key, expected) {
  tmux('send-keys', '-t', session, '--', key);
  if (expected) await waitFor(expected);
}

function run(command, args) {
  execFileSync(command, args, { stdio: 'ignore' });
}

/** A 64 MiB GPT image: EFI, an ext4 root with a few files, swap, and a small data partition. */
function buildDemoImage(dir) {
  const image = join(dir, 'demo-disk.img');
  run('truncate', ['-s', '64M', image]);
  // A fixed disk GUID: it shows on screen, so the pictures only change when the app does.
  run('sgdisk', [
    '-U',
    '6d3f0c2a-8b1e-4c55-9a7d-2f4e6b8c1a90',
    '-n1:2048:+8M',
    '-t1:ef00',
    '-c1:EFI system',
    '-n2:0:+32M',
    '-t2:8300',
    '-c2:root',
    '-n3:0:+8M',
    '-t3:8200',
    '-c3:swap',
    '-n4:0:0',
    '-t4:8300',
    '-c4:data',
    image,
  ]);
  const content = join(dir, 'root');
  mkdirSync(join(content, 'etc'), { recursive: true });
  mkdirSync(join(content, 'home', 'demo'), { recursive: true });
  writeFileSync(join(content, 'etc', 'hostname'), 'demo\n');
  // A Linux root the mount session recognises, with accounts for the accounts screen.
  writeFileSync(
    join(content, 'etc', 'os-release'),
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
  );
  writeFileSync(
    join(content, 'etc', 'passwd'),
    [
      'root:x:0:0:root:/root:/bin/bash',
      'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
      'demo:x:1000:1000:Demo:/home/demo:/bin/bash',
      'backup:x:1001:1001::/home/backup:/bin/bash',
      '',
    ].join('\n'),
  );
  // Hashes of throwaway passwords: the screen never shows them.
  const hash = '$y$j9T$6n71zsezNxhhpvX5$EFKgwCp5Vl9GyGZ/5pvAkVpC3Fhex7GjPAvANb.Nv.D';
  writeFileSync(
    join(content, 'etc', 'shadow'),
    [
      `root:${hash}:19800:0:99999:7:::`,
      'daemon:*:19800:0:99999:7:::',
      `demo:!${hash}:19810:0:99999:7:::`,
      `backup:${hash}:19000:0:90:7::19500:`,
      '',
    ].join('\n'),
    { mode: 0o640 },
  );
  mkdirSync(join(content, 'bin'), { recursive: true });
  writeFileSync(join(content, 'bin', 'sh'), '');
  writeFileSync(join(content, 'README.txt'), 'A demo root filesystem.\n');
  const fs = join(dir, 'root.ext4');
  run('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', content, fs, '32M']);
  run('dd', [`if=${fs}`, `of=${image}`, 'bs=512', `seek=${2048 + 16384}`, 'conv=notrunc', 'status=none']);
  const swap = join(dir, 'swap.img');
  run('truncate', ['-s', '8M', swap]);
  run('mkswap', ['-q', '-L', 'swap', swap]);
  run('dd', [
    `if=${swap}`,
    `of=${image}`,
    'bs=512',
    `seek=${2048 + 16384 + 65536}`,
    'conv=notrunc',
    'status=none',
  ]);
  rmSync(fs);
  rmSync(swap);
  // A second, unpartitioned image and a compressed one, so the source list has variety.
  run('truncate', ['-s', '16M', join(dir, 'blank.img')]);
  writeFileSync(join(dir, 'backup.img'), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]));
  return image;
}

/** lvm2 over `devices` only, with a private LVM_SYSTEM_DIR (no backups, hints or udev) and no device-mapper. */
function lvm2(systemDir, command, args, devices) {
  return execFileSync(command, ['--driverloaded', 'n', '--devices', devices.join(','), ...args], {
    encoding: 'utf8',
    env: { ...process.env, LVM_SYSTEM_DIR: systemDir, LVM_SUPPRESS_FD_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * A RHEL-style VM disk as libvirt keeps it: a qcow2 holding a GPT with /boot (ext4) and an LVM PV
 * whose VG `rhel` has a root LV (ext4, a Rocky Linux root) and swap, written by lvm2 itself
 * (metadata only, so no device-mapper is needed) and the root filesystem placed where lvm2 says
 * its extents are. Returns the qcow2's path.
 */
function buildVmImage(dir) {
  const raw = join(dir, 'rhel-vm.raw');
  run('truncate', ['-s', '96M', raw]);
  run('sgdisk', [
    '-U',
    '3b1f6c2e-4a7d-4e19-8c3b-5d2a9f0e7b14',
    '-n1:2048:+16M',
    '-c1:boot',
    '-n2:0:0',
    '-t2:8e00',
    '-c2:lvm',
    raw,
  ]);
  const boot = join(dir, 'boot.ext4');
  run('mkfs.ext4', ['-q', '-F', '-L', 'boot', boot, '16M']);
  run('dd', [`if=${boot}`, `of=${raw}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none']);
  const tree = join(dir, 'rocky');
  mkdirSync(join(tree, 'etc', 'selinux'), { recursive: true });
  writeFileSync(
    join(tree, 'etc', 'os-release'),
    'NAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\nID="rocky"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n',
  );
  writeFileSync(join(tree, 'etc', 'hostname'), 'web01\n');
  writeFileSync(join(tree, 'etc', 'selinux', 'config'), 'SELINUX=enforcing\nSELINUXTYPE=targeted\n');
  writeFileSync(join(tree, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(join(tree, 'etc', 'shadow'), 'root:!!:19800:0:99999:7:::\n', { mode: 0 });
  const lvmDir = join(dir, 'lvm');
  mkdirSync(join(lvmDir, 'lock'), { recursive: true });
  writeFileSync(
    join(lvmDir, 'lvm.conf'),
    `backup { backup = 0 archive = 0 }\ndevices { use_devicesfile = 0 obtain_device_list_from_udev = 0 hints = "none" }\nactivation { udev_sync = 0 udev_rules = 0 monitoring = 0 }\nglobal { use_lvmlockd = 0 locking_dir = "${join(lvmDir, 'lock')}" }\n`,
  );
  const pvStart = 2048 + 32768;
  const loop = execFileSync('losetup', ['-f', '--show', '-o', String(pvStart * 512), raw], {
    encoding: 'utf8',
  }).trim();
  let rootAt;
  try {
    // A free loop can carry a read-only policy an earlier user left; lvm2 must write.
    run('blockdev', ['--setrw', loop]);
    lvm2(lvmDir, 'pvcreate', ['-q', loop], [loop]);
    lvm2(lvmDir, 'vgcreate', ['-q', 'rhel', loop], [loop]);
    lvm2(lvmDir, 'lvcreate', ['-an', '-Zn', '-q', '-n', 'root', '-L', '48M', 'rhel'], [loop]);
    lvm2(lvmDir, 'lvcreate', ['-an', '-Zn', '-q', '-n', 'swap', '-L', '16M', 'rhel'], [loop]);
    // The first row of a `pvs`/`vgs`/`lvs` JSON report (sizes in sectors).
    const report = (command, fields, args) =>
      Object.values(
        JSON.parse(
          lvm2(
            lvmDir,
            command,
            ['--reportformat', 'json', '--units', 's', '--nosuffix', '-o', fields, ...args],
            [loop],
          ),
        ).report[0],
      )[0][0];
    const peStart = Number(report('pvs', 'pe_start', []).pe_start);
    const extent = Number(report('vgs', 'vg_extent_size', ['rhel']).vg_extent_size);
    const ranges = report('lvs', 'seg_pe_ranges', ['--segments', 'rhel/root']).seg_pe_ranges;
    rootAt = pvStart + peStart + Number(/:(\d+)-/.exec(ranges)[1]) * extent;
  } finally {
    spawnSync('losetup', ['-d', loop]);
  }
  const root = join(dir, 'root.ext4');
  run('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', tree, root, '48M']);
  run('dd', [`if=${root}`, `of=${raw}`, 'bs=512', `seek=${rootAt}`, 'conv=notrunc', 'status=none']);
  const qcow2 = join(dir, 'rhel-vm.qcow2');
  run('qemu-img', ['convert', '-O', 'qcow2', raw, qcow2]);
  for (const path of [raw, boot, root, tree, lvmDir]) rmSync(path, { recursive: true, force: true });
  return qcow2;
}

async function main() {
  if (process.getuid?.() !== 0 || !existsSync('/dev/loop-control')) {
    console.error('screenshots: needs root and loop devices (the flows map and mount for real)');
    return 1;
  }
  if (!existsSync(join(repo, 'dist', 'tui', 'main.js'))) {
    console.error('screenshots: run `npm run build` first');
    return 1;
  }
  mkdirSync(outDir, { recursive: true });
  // A fixed directory: the path shows in the screenshots, so it should not change between runs.
  const dir = join(tmpdir(), 'kpartx-demo');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const bin = join(repo, 'bin', 'kpartx-tui.js');
  try {
    buildDemoImage(dir);
    buildVmImage(dir);
    startApp(dir, `node ${bin}; sleep 60`);
    await waitFor('demo-disk.img');
    await capture('01-sources');

    await press('Down', '❯ blank.img');
    await press('Down', '❯ demo-disk.img');
    await press('Enter', 'gpt table');
    await press('Down', /#2 primary/);
    await press('Down', /#3 primary/);
    await capture('02-layout');

    // Read-only is the default write mode: the maps below are made read-only.
    await press('p', 'Delimiter');
    await press('-part', 'loop');
    await waitFor(/-part4/);
    await capture('03-options-live-preview');
    await press('Escape', "delim auto 'p'");

    await press('a', /Create 4 maps read-only\?/);
    await capture('04-confirm-add');
    await press('y', /created and confirmed|Failed/);
    await capture('05-progress-confirmed');

    await press('Enter', /● 1/);
    await press('m', 'Mount read-only');
    await press('Down', /❯ loop\d+p2/);
    await press('Enter', /Mounted .*\(ext4, read-only, noexec\)/);
    await waitFor('System: Debian GNU/Linux 12 root');
    await capture('06-mount-session');
    await press('a', 'Accounts of Debian GNU/Linux 12 root');
    await capture('09-accounts');
    await press('Escape', 'Top of the tree:');

    await press('x', /map\(s\) removed/);
    await capture('07-unmap-progress');
    await press('Enter', 'Clean:');
    await capture('08-clean');
    await press('q');

    // A VM disk as it comes: qcow2 → GPT → LVM → a Rocky Linux root, read without attaching
    // anything; this kernel has no nbd, so the app offers a raw copy and opens it.
    spawnSync('tmux', ['kill-session', '-t', session]);
    startApp(dir, `node ${bin} rhel-vm.qcow2; sleep 60`);
    await waitFor('Rocky Linux 9.4 root');
    await press('Down', /#2 primary/);
    await capture('10-vm-stack');
    await press('c', 'Raw copy:');
    await press('Enter', 'free for a raw copy');
    await capture('11-convert');
    await press('Enter', /Converted to .*rhel-vm\.raw/);
    await capture('12-converted');
    await press('q');
    return 0;
  } finally {
    spawnSync('tmux', ['kill-session', '-t', session]);
    // Anything a failed run left behind on the demo images.
    const loops = ['demo-disk.img', 'rhel-vm.raw']
      .map(
        (name) =>
          spawnSync('losetup', ['-j', join(dir, name), '-O', 'NAME', '-n'], { encoding: 'utf8' }).stdout,
      )
      .join('\n');
    for (const loop of loops.split('\n').filter(Boolean)) {
      const parts = spawnSync('losetup', ['-j', loop, '-O', 'NAME', '-n'], {
        encoding: 'utf8',
      }).stdout.trim();
      for (const part of parts.split('\n').filter(Boolean)) {
        spawnSync('umount', [part]);
        spawnSync('losetup', ['-d', part]);
      }
      spawnSync('losetup', ['-d', loop]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
