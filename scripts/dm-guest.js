#!/usr/bin/env node
/**
 * Runs a command against real device-mapper in a QEMU guest (the build host's kernel may have none).
 *
 * The guest boots the installed Debian kernel with a busybox initramfs, loads dm-mod/loop/ext4, mounts
 * this machine's / read-only over 9p plus a writable results share, and chroots into it: node, the
 * repo, kpartx and dmsetup are the host's own. The command's exit status comes back through the
 * results share (and a marker line on the serial console); a hard timeout kills the guest.
 *
 * `node scripts/dm-guest.js`            runs the in-guest suite (vitest.dm.config.ts)
 * `node scripts/dm-guest.js -- CMD...`  runs CMD (a shell command line) in the repo directory instead
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MARKER = 'KPARTX-DM-GUEST-EXIT';

/** Modules in load order; dependencies come from modprobe --show-depends. */
// dm-crypt and the ciphers cryptsetup's LUKS default (aes-xts-plain64) needs in the kernel, plus
// AF_ALG (algif_skcipher/algif_hash), through which cryptsetup decrypts keyslots in userspace.
const MODULES = [
  'virtio_pci',
  '9pnet_virtio',
  '9p',
  'dm-mod',
  'loop',
  'nbd',
  'ext4',
  'vfat',
  'xfs',
  'btrfs',
  'dm-crypt',
  'xts',
  'aesni_intel',
  'algif_skcipher',
  'algif_hash',
];

function kernelVersion() {
  const installed = fs.readdirSync('/lib/modules').filter((v) => fs.existsSync(`/boot/vmlinuz-${v}`));
  installed.sort();
  const version = installed.at(-1);
  if (!version) throw new Error('no /boot/vmlinuz-<v> with /lib/modules/<v>: install linux-image-amd64');
  return version;
}

function moduleFiles(version) {
  const files = [];
  for (const name of MODULES) {
    const r = spawnSync('modprobe', ['-S', version, '--show-depends', name], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`modprobe --show-depends ${name}: ${r.stderr.trim()}`);
    for (const line of r.stdout.split('\n')) {
      const m = /^insmod (\S+\.ko)\s*/.exec(line);
      if (m && !files.includes(m[1])) files.push(m[1]);
    }
  }
  return files;
}

function initScript(modules, command, hostUid) {
  const insmods = modules.map((m) => `insmod /modules/${path.basename(m)} 2>/dev/null`).join('\n');
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /root /results
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
${insmods}
O=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o $O,ro,cache=loose host /root || { echo "guest: cannot mount the host root"; poweroff -f; }
mount -t 9p -o $O results /results || { echo "guest: cannot mount the results share"; poweroff -f; }
mount -t devtmpfs devtmpfs /root/dev
# Pseudo-terminals, for the tests that drive the app in tmux.
mkdir -p /root/dev/pts
mount -t devpts -o ptmxmode=0666 devpts /root/dev/pts
mount -t proc proc /root/proc
mount -t sysfs sysfs /root/sys
mount -t tmpfs -o mode=1777 tmpfs /root/tmp
mount -t tmpfs tmpfs /root/run
# qemu-nbd's lock files go in /var/lock, which points into the fresh /run.
mkdir -p /root/run/lock
mkdir -p /root/tmp/results
mount --bind /results /root/tmp/results
# The project itself comes through a share of its own: a checkout under /tmp or /run would be
# hidden by the guest's tmpfs mounts above.
mkdir -p '/root${repo}' 2>/dev/null
mount -t 9p -o $O,ro,cache=loose repo '/root${repo}' || { echo "guest: cannot mount the project"; poweroff -f; }
echo "guest: kernel $(uname -r), device-mapper $(cat /root/proc/misc | grep -c device-mapper)"
cat > /root/tmp/guest-cmd.sh <<'KPARTX_CMD_EOF'
${command}
KPARTX_CMD_EOF
chroot /root /bin/sh -c 'cd ${repo} && export HOME=/tmp CI=true KPARTX_DM_GUEST=1 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin && exec /bin/sh /tmp/guest-cmd.sh' </dev/null 2>&1
rc=$?
echo "${MARKER} $rc"
echo $rc > /results/exit-status
chown -R ${hostUid} /results 2>/dev/null
sync
poweroff -f
`;
}

function buildInitramfs(dir, version, command) {
  const root = path.join(dir, 'initramfs');
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'modules'), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  const modules = moduleFiles(version);
  for (const m of modules) fs.copyFileSync(m, path.join(root, 'modules', path.basename(m)));
  fs.writeFileSync(path.join(root, 'init'), initScript(modules, command, process.getuid?.() ?? 0), {
    mode: 0o755,
  });
  const image = path.join(dir, 'initramfs.cpio.gz');
  const r = spawnSync('sh', [
    '-c',
    `cd '${root}' && find . | cpio -o -H newc --quiet | gzip -1 > '${image}'`,
  ]);
  if (r.status !== 0) throw new Error(`cpio failed: ${r.stderr}`);
  return image;
}

/**
 * Boots the guest, runs `command` (shell text, cwd = repo) and resolves with its exit status
 * (or a negative number when the guest died or timed out). Output is streamed to `onLine`.
 */
export function runInGuest(command, options = {}) {
  const timeoutMs = options.timeoutMs ?? 25 * 60_000;
  const onLine = options.onLine ?? ((line) => process.stdout.write(`${line}\n`));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kpartx-dm-guest-'));
  const results = path.join(dir, 'results');
  fs.mkdirSync(results);
  const version = kernelVersion();
  const initrd = buildInitramfs(dir, version, command);
  const args = [
    '-accel',
    'tcg',
    '-cpu',
    'max',
    '-smp',
    String(Math.max(1, Math.min(4, os.cpus().length))),
    '-m',
    '2048',
    '-nographic',
    '-no-reboot',
    '-nodefaults',
    '-serial',
    'stdio',
    '-kernel',
    `/boot/vmlinuz-${version}`,
    '-initrd',
    initrd,
    '-append',
    'console=ttyS0 quiet panic=-1 loglevel=3',
    '-virtfs',
    'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
    '-virtfs',
    `local,path=${results},mount_tag=results,security_model=none,multidevs=remap`,
    '-virtfs',
    `local,path=${repo},mount_tag=repo,security_model=none,readonly=on,multidevs=remap`,
  ];
  return new Promise((resolve) => {
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    let markerStatus = null;
    const feed = (chunk) => {
      pending += chunk.toString('latin1').replace(/\0/g, '').replace(/\r/g, '');
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const m = new RegExp(`${MARKER} (\\d+)$`).exec(line.trim());
        if (m) {
          markerStatus = Number(m[1]);
          // The command is done; a guest that does not power off soon is stopped.
          clearTimeout(timer);
          setTimeout(() => qemu.kill('SIGKILL'), 30_000).unref();
        } else onLine(line);
        nl = pending.indexOf('\n');
      }
    };
    qemu.stdout.on('data', feed);
    qemu.stderr.on('data', feed);
    const timer = setTimeout(() => {
      onLine(`dm-guest: timed out after ${Math.round(timeoutMs / 1000)} s, killing the guest`);
      qemu.kill('SIGKILL');
    }, timeoutMs);
    qemu.on('error', (error) => {
      clearTimeout(timer);
      onLine(`dm-guest: cannot start qemu-system-x86_64: ${error.message}`);
      resolve({ status: -1, results, dir });
    });
    qemu.on('close', () => {
      clearTimeout(timer);
      if (pending) feed('\n');
      let status = markerStatus;
      if (status === null) {
        try {
          status = Number(fs.readFileSync(path.join(results, 'exit-status'), 'utf8').trim());
        } catch {
          // No status file: the guest died before the command finished.
        }
      }
      resolve({ status: status ?? -1, results, dir });
    });
  });
}

const SUITE = [
  // The suite imports TypeScript sources directly; the CLI tests run bin/kpartx.js from dist.
  'node node_modules/vitest/vitest.mjs run --config vitest.dm.config.ts --configLoader runner',
].join('\n');

async function main() {
  const sep = process.argv.indexOf('--');
  const command = sep >= 0 ? process.argv.slice(sep + 1).join(' ') : SUITE;
  if (sep < 0) {
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: 'inherit' });
    if (build.status !== 0) console.error('dm-guest: npm run build failed; CLI tests will use what dist has');
  }
  const started = Date.now();
  const { status, dir } = await runInGuest(command);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  fs.rmSync(dir, { recursive: true, force: true });
  if (status === 0) console.log(`dm-guest: passed in ${seconds} s`);
  else console.error(`dm-guest: FAILED (status ${status}) after ${seconds} s`);
  process.exit(status === 0 ? 0 : 1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(`dm-guest: ${error.message}`);
    process.exit(1);
  });
}
