/**
 * An in-memory machine for tests (the Machine interface of src/engine/machine.ts): loop devices bound to files, a device-mapper with names, UUIDs,
 * tables, open counts and read-only maps, and a mount table. It enforces the rules the real kernel
 * enforces where they matter to kpartx (busy names and UUIDs, maps past the end of their device,
 * removing an open map, lowest free loop index and dm minor), and every operation can be made to
 * fail on purpose (`failOn`) to test error paths.
 *
 * Backing files are either registered in memory (`addFile`) or real files on disk (a test's
 * temporary directory). Its devices, /dev/mapper directory and holders exist only in memory: nothing
 * under the real /sys or /dev is read or written. Locks are the real ones (in the run directory).
 */
import { closeSync, fstatSync, lstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import type {
  BlockDeviceInfo,
  BlockFacts,
  CryptLibrary,
  DmApi,
  DmMapInfo,
  DmTarget,
  Holder,
  LoopAttachOptions,
  LoopDevice,
  LvmHostFacts,
  Machine,
  MachineLocks,
  MachineLoops,
  MachineMounts,
  MachineNbd,
  MapperDir,
  MapperEntry,
  MountEntry,
  OverlayApi,
  PathKind,
  XattrApi,
} from '../../src/engine/machine.js';
import { type DevNo, formatDevNo, sameDevNo } from '../../src/io/devno.js';
import type { Disk } from '../../src/io/disk.js';
import { errnoNumber, strerror } from '../../src/io/errno.js';
import type { FileDisk } from '../../src/io/file-disk.js';
import { openFileDisk } from '../../src/io/file-disk.js';
import { KernelError } from '../../src/io/kernel-error.js';
import { MISSING as CRYPTSETUP_MISSING } from '../../src/kernel/cryptsetup.js';
import { lockKey, withLock } from '../../src/kernel/lock.js';
import { ensureMountDir, runDir } from '../../src/kernel/run-dir.js';
import { type CryptApi, CryptError } from '../../src/kernel/types.js';
import { openContainer } from '../../src/probe/containers.js';
import { qcow2OverlayBytes } from './qcow2-overlay.js';

export type FakeErrno =
  | 'ENOENT'
  | 'EIO'
  | 'ENXIO'
  | 'EACCES'
  | 'ENOTBLK'
  | 'EBUSY'
  | 'EEXIST'
  | 'ENODEV'
  | 'EINVAL'
  | 'EROFS';

function kernelError(op: string, device: string, code: string): KernelError {
  const errno = errnoNumber(code);
  return new KernelError(op, device, errno, code, `${device}: ${op} failed: ${strerror(errno)}`);
}

/** Operations that can be made to fail. */
export type FakeOp =
  | 'blockDevice'
  /** Reading a fake device through openDisk (an I/O error on the medium). */
  | 'read'
  | 'loop.attach'
  | 'loop.detach'
  | 'dm.create'
  | 'dm.reload'
  | 'dm.resume'
  | 'dm.rename'
  | 'dm.remove'
  | 'setReadOnly'
  | 'mount'
  | 'unmount'
  | 'nbd.connect'
  | 'nbd.disconnect'
  | 'overlay.create'
  | 'overlay.commit';

interface Injection {
  op: FakeOp;
  /** Fail the nth matching call (1-based); every matching call when absent. */
  nth?: number;
  /** Only calls about this device or map name. */
  device?: string;
  code: string;
  seen: number;
}

interface FakeDisk {
  path: string;
  devno: DevNo;
  sectorSize: number;
  readOnly: boolean;
  /** Bytes in memory, or a file on disk. */
  source: { bytes: Uint8Array } | { file: string };
}

interface FakeLoop {
  index: number;
  backing: string;
  offset: number;
  sizeLimit: number;
  readOnly: boolean;
  autoclear: boolean;
  blockSize: number;
  name: string;
  openCount: number;
}

interface FakeMap {
  name: string;
  uuid: string;
  minor: number;
  table: DmTarget[];
  pending: { table: DmTarget[]; readOnly: boolean } | null;
  readOnly: boolean;
  suspended: boolean;
  openCount: number;
}

export interface FakeMachineOptions {
  /** false: a kernel without device-mapper (`machine.dm` is null). Default true. */
  dm?: boolean;
  /** The filesystem types it can mount (filesystemSupported); every type when absent. */
  filesystems?: string[];
  /** false: no /dev/loop-control (loop devices cannot be attached by the backends). Default true. */
  loopControl?: boolean;
  /** Loop devices that exist but are unbound at start (`/dev/loop0..N-1`). Default 8. */
  loopDevices?: number;
  /** Major number of device-mapper devices. Default 254. */
  dmMajor?: number;
  /** true: the kernel has nbd (attaching containers would work). Default false, as on this host. */
  nbd?: boolean;
  /** false: no cryptsetup installed. Default true. */
  cryptsetup?: boolean;
  /** false: qemu-img and qemu-nbd are not installed (overlays cannot be made). Default true. */
  qemuUtils?: boolean;
  /**
   * What `crypt.open` accepts: the one passphrase (or a key file's in-memory text) of every LUKS
   * device, and where its plaintext starts (sectors); the opened map shows the device from there.
   */
  luks?: { passphrase: string; payloadSectors: number };
  /** The host's crypt library; none by default (the built-in SHA-512 is used). */
  hostCrypt?: CryptLibrary | null;
  /** Extended-attribute calls; by default files have none and what is set is only logged. */
  xattrs?: XattrApi;
  /** The host's lvm2 as lvmHost() reports it; by default no udev rule (nothing auto-activates). */
  lvmHost?: LvmHostFacts;
}

const LOOP_MAJOR = 7;
const NBD_MAJOR = 43;

export class FakeMachine implements Machine {
  /** Every state-changing call, in order, e.g. `dm.create loop0p1`. */
  readonly calls: string[] = [];
  /** What happened in /dev/mapper: `+name` made, `-name` removed, `from>to` renamed. */
  readonly nodeLog: string[] = [];
  readonly loop: MachineLoops;
  readonly dm: DmApi | null;
  readonly crypt: CryptApi;
  readonly mounts: MachineMounts;
  readonly nodes: MapperDir & {
    /** Put something that is not a device node at `/dev/mapper/<name>` (`what` says what it is). */
    plant(name: string, what: string): void;
  };
  readonly locks: MachineLocks;
  readonly nbd: MachineNbd;
  readonly overlays: OverlayApi;
  readonly xattrs: XattrApi;
  private readonly crypt3: CryptLibrary | null;
  private readonly lvmHostFacts: LvmHostFacts;

  private readonly files = new Map<string, Uint8Array>();
  private readonly disks = new Map<string, FakeDisk>();
  private readonly loops = new Map<number, FakeLoop | null>();
  private readonly maps = new Map<string, FakeMap>();
  private readonly mountTable: MountEntry[] = [];
  private readonly injections: Injection[] = [];
  private readonly dmMajor: number;
  private readonly nbdKernel: boolean;
  /** Connected /dev/nbdN by index: the image, and whether kpartx-tui's record names it. */
  private readonly nbdConnections = new Map<
    number,
    { file: string; pid: number; ours: boolean; readOnly: boolean }
  >();
  private nextNbdPid = 4000;
  private readonly filesystems: string[] | undefined;
  /** Devices made read-only with setReadOnly (BLKROSET), by device number. */
  private readonly forcedReadOnly = new Set<string>();
  /** The in-memory /dev/mapper: device nodes, symlinks, and planted foreign entries. */
  private readonly mapper = new Map<
    string,
    { kind: 'node'; devno: DevNo } | { kind: 'symlink'; target: string } | { kind: 'other'; what: string }
  >();
  private readonly loopControl: boolean;

  constructor(options: FakeMachineOptions = {}) {
    this.dmMajor = options.dmMajor ?? 254;
    this.nbdKernel = options.nbd ?? false;
    this.filesystems = options.filesystems;
    this.loopControl = options.loopControl ?? true;
    for (let i = 0; i < (options.loopDevices ?? 8); i++) this.loops.set(i, null);
    this.loop = this.makeLoopApi();
    this.dm = options.dm === false ? null : this.makeDmApi();
    this.crypt = this.makeCryptApi(options);
    this.mounts = this.makeMountApi();
    this.nodes = this.makeMapperDir();
    this.nbd = this.makeNbdApi();
    this.overlays = this.makeOverlayApi(options.qemuUtils ?? true);
    this.locks = {
      withLock: (subject, device, work, waitMs) => withLock(lockKey(subject), device, work, waitMs),
      // Runs on one fake never race for an image's loop.
      lockImage: () => ({ release() {} }),
    };
    this.crypt3 = options.hostCrypt ?? null;
    this.lvmHostFacts = options.lvmHost ?? { rule: null, eventActivation: true, udev: false };
    this.xattrs = options.xattrs ?? {
      list: () => [],
      get: (fd, name) => {
        throw kernelError('fgetxattr', `fd ${fd} ${name}`, 'ENODATA');
      },
      set: (fd, name) => {
        this.calls.push(`xattr.set ${fd} ${name}`);
      },
      remove: (fd, name) => {
        this.calls.push(`xattr.remove ${fd} ${name}`);
      },
    };
  }

  hostCrypt(): CryptLibrary | null {
    return this.crypt3;
  }

  // ---- set-up helpers for tests -------------------------------------------------------------

  /** A file that exists only in memory; loops can be bound to it. */
  addFile(path: string, bytes: Uint8Array): void {
    this.files.set(path, bytes);
  }

  /** A whole-disk block device. */
  addDisk(
    path: string,
    source: Uint8Array | string,
    options: { devno?: DevNo; sectorSize?: number; readOnly?: boolean } = {},
  ): DevNo {
    const devno = options.devno ?? { major: 8, minor: this.disks.size * 16 };
    this.disks.set(path, {
      path,
      devno,
      sectorSize: options.sectorSize ?? 512,
      readOnly: options.readOnly ?? false,
      source: typeof source === 'string' ? { file: source } : { bytes: source },
    });
    return devno;
  }

  /** Make the `nth` matching call of `op` (or every one) fail with `code` (default EIO). */
  failOn(op: FakeOp, options: { nth?: number; device?: string; code?: FakeErrno } = {}): void {
    this.injections.push({
      op,
      nth: options.nth,
      device: options.device,
      code: options.code ?? 'EIO',
      seen: 0,
    });
  }

  /** Simulate a process holding a map or loop device open. */
  setOpenCount(nameOrPath: string, count: number): void {
    const map = this.maps.get(nameOrPath.replace(/^\/dev\/mapper\//, ''));
    if (map) {
      map.openCount = count;
      return;
    }
    const loop = this.loopByPath(nameOrPath);
    if (!loop) throw new Error(`fake kernel: no map or loop ${nameOrPath}`);
    loop.openCount = count;
  }

  /**
   * Create a map directly, bypassing injections (pre-existing state for a scenario). An empty
   * `table` leaves it without a live table; `inactive` loads one that was never resumed.
   */
  seedMap(
    name: string,
    uuid: string,
    table: DmTarget[],
    options: { readOnly?: boolean; inactive?: DmTarget[] } = {},
  ): DevNo {
    const minor = this.freeMinor();
    this.maps.set(name, {
      name,
      uuid,
      minor,
      table,
      pending: options.inactive ? { table: options.inactive, readOnly: options.readOnly ?? false } : null,
      readOnly: options.readOnly ?? false,
      suspended: false,
      openCount: 0,
    });
    return { major: this.dmMajor, minor };
  }

  /**
   * A connection on /dev/nbdN that kpartx-tui did not make (the user ran qemu-nbd): the device
   * presents `guest`, and no record names it.
   */
  connectForeignNbd(index: number, guest: Uint8Array, readOnly = true): string {
    const path = `/dev/nbd${index}`;
    this.addDisk(path, guest, { devno: { major: NBD_MAJOR, minor: index * 32 }, readOnly });
    this.nbdConnections.set(index, { file: '', pid: this.nextNbdPid++, ours: false, readOnly });
    return path;
  }

  /** An in-memory file registered with addFile, if any. */
  memoryFile(path: string): Uint8Array | undefined {
    return this.files.get(path);
  }

  /** Is `path` a block device of this fake kernel? */
  isBlockDevice(path: string): boolean {
    return this.resolve(path) !== undefined;
  }

  /** A read-only view of one of the fake block devices (disk, loop, or dm map). */
  deviceDisk(path: string): Disk {
    const device = this.resolve(path);
    if (!device) throw kernelError('open', path, 'ENOENT');
    const info = this.infoOf(device, path);
    return {
      sectorSize: info.logicalSectorSize,
      size: info.sizeBytes,
      readAt: (offset, length) => {
        this.inject('read', path);
        if (offset < 0 || offset >= info.sizeBytes) return new Uint8Array(0);
        return this.readDevice(device, offset, Math.min(length, info.sizeBytes - offset));
      },
    };
  }

  // ---- Machine --------------------------------------------------------------------------------

  stat(path: string): PathKind {
    if (this.isBlockDevice(path)) return 'block';
    // A symlink in the fake /dev/mapper (the loop backend's) is followed, as stat(2) does.
    const link = this.mapper.get(posix.basename(path));
    if (posix.dirname(path) === '/dev/mapper' && link?.kind === 'symlink') return this.stat(link.target);
    if (this.files.has(path)) return 'file';
    const st = statSync(path);
    return st.isFile() ? 'file' : st.isBlockDevice() ? 'block' : 'other';
  }

  realpath(path: string): string {
    const linked = this.mapperLink(path);
    if (linked) return this.realpath(linked);
    return this.isBlockDevice(path) || this.files.has(path) ? path : realpathSync(path);
  }

  fileSize(path: string): number {
    const bytes = this.files.get(path);
    if (bytes) return bytes.length;
    // A loop over a whole-disk device (an nbd device) sees the device's size.
    const disk = this.disks.get(path);
    if (disk) return this.infoOf({ disk }, path).sizeBytes;
    return statSync(path).size;
  }

  /** Fake devices and in-memory files are read from memory; any other path is a real file. */
  openDisk(path: string, size: number, sectorSize: number): FileDisk {
    const linked = this.mapperLink(path);
    if (linked) return this.openDisk(linked, size, sectorSize);
    if (this.isBlockDevice(path)) return closable(this.deviceDisk(path), path);
    const bytes = this.files.get(path);
    if (!bytes) return openFileDisk(path, size, sectorSize);
    const view = bytes.subarray(0, size);
    return closable(
      {
        size,
        sectorSize,
        readAt: (offset, length) =>
          offset < 0 || offset >= size ? new Uint8Array(0) : view.subarray(offset, offset + length),
      },
      path,
    );
  }

  blockFacts(path: string): BlockFacts | undefined {
    if (!this.isBlockDevice(path)) return undefined;
    const info = this.blockDevice(path);
    let dm: DmMapInfo | undefined;
    try {
      dm = this.dm?.infoByDevNo(info.devno);
    } catch {
      dm = undefined;
    }
    return {
      devno: info.devno,
      sizeBytes: info.sizeBytes,
      logicalSectorSize: info.logicalSectorSize,
      ...(dm ? { dm: { name: dm.name, uuid: dm.uuid } } : {}),
    };
  }

  deviceNumber(path: string): DevNo | undefined {
    const device = this.resolve(path);
    return device ? this.ownInfoOf(device, path).devno : undefined;
  }

  /** Like sysfs `holders`: the maps stacked on a device (a loop over it is not one). */
  holders(devno: DevNo): Holder[] {
    const text = formatDevNo(devno);
    return [...this.maps.values()]
      .filter((map) => map.table.some((target) => target.params.split(' ')[0] === text))
      .sort((a, b) => a.minor - b.minor)
      .map((map) => ({ kernelName: `dm-${map.minor}`, dmName: map.name }));
  }

  /** Mounted, held by a map, or open (setOpenCount): the cases where O_EXCL fails. */
  heldExclusively(path: string): boolean {
    const device = this.resolve(path);
    if (!device) return false;
    const { devno } = this.ownInfoOf(device, path);
    if (this.mountTable.some((entry) => sameDevNo(entry.devno, devno))) return true;
    if (this.holders(devno).length > 0) return true;
    if ('map' in device) return device.map.openCount > 0;
    if ('loop' in device) return device.loop.openCount > 0;
    return false;
  }

  deviceMapperPresent(): boolean {
    return this.dm !== null;
  }

  nbdPresent(): boolean {
    return this.nbdKernel;
  }

  /** The filesystems this fake kernel mounts: all when `filesystems` was not given. */
  filesystemSupported(fstype: string): boolean | undefined {
    return this.filesystems ? this.filesystems.includes(fstype) : true;
  }

  lvmHost(): LvmHostFacts {
    return this.lvmHostFacts;
  }

  /** The `filesystems` given, else a kernel that mounts the common Linux types. */
  mountableFilesystems(): string[] {
    return [
      ...(this.filesystems ?? ['btrfs', 'erofs', 'ext2', 'ext3', 'ext4', 'squashfs', 'vfat', 'xfs']),
    ].sort();
  }

  blockDevice(path: string): BlockDeviceInfo {
    this.inject('blockDevice', path);
    const device = this.resolve(path);
    if (!device) throw kernelError('stat', path, this.pathExists(path) ? 'ENOTBLK' : 'ENOENT');
    return this.infoOf(device, path);
  }

  setReadOnly(path: string, readOnly: boolean): void {
    this.inject('setReadOnly', path);
    const device = this.resolve(path);
    if (!device) throw kernelError('open', path, 'ENOENT');
    const key = formatDevNo(this.infoOf(device, path).devno);
    if (readOnly) this.forcedReadOnly.add(key);
    else this.forcedReadOnly.delete(key);
    this.calls.push(`blockdev --set${readOnly ? 'ro' : 'rw'} ${path}`);
  }

  // ---- internals ------------------------------------------------------------------------------

  /** nbd as qemu-nbd would drive it: the device presents the container's guest disk (read here). */
  private makeNbdApi(): MachineNbd {
    const toConnection = (index: number) => {
      const c = this.nbdConnections.get(index)!;
      return {
        path: `/dev/nbd${index}`,
        index,
        pid: c.pid,
        ...(c.ours ? { file: c.file } : {}),
        ours: c.ours,
        readOnly: c.readOnly,
      };
    };
    return {
      available: () => this.nbdKernel,
      list: () => [...this.nbdConnections.keys()].sort((a, b) => a - b).map(toConnection),
      connect: async (file, options) => {
        this.inject('nbd.connect', file);
        if (!this.nbdKernel) throw new Error('nbd: no such device');
        let index = 0;
        while (this.nbdConnections.has(index)) index++;
        const disk = this.openDisk(file, this.fileSize(file), 512);
        let guest: Uint8Array;
        try {
          const opened = openContainer(disk, { path: file });
          if (!opened?.disk) throw new Error(`${file}: qemu-nbd cannot open it as ${options.format}`);
          guest = opened.disk.readAt(0, opened.disk.size).slice();
          opened.close();
        } finally {
          disk.close();
        }
        const path = `/dev/nbd${index}`;
        this.addDisk(path, guest, {
          devno: { major: NBD_MAJOR, minor: index * 32 },
          readOnly: options.readOnly,
        });
        this.nbdConnections.set(index, {
          file,
          pid: this.nextNbdPid++,
          ours: true,
          readOnly: options.readOnly,
        });
        this.calls.push(
          `qemu-nbd --connect=${path} --format=${options.format}${options.readOnly ? ' --read-only' : ''} ${file}`,
        );
        return toConnection(index);
      },
      disconnect: async (path) => {
        this.inject('nbd.disconnect', path);
        const index = Number(/^\/dev\/nbd(\d+)$/.exec(path)?.[1] ?? -1);
        if (!this.nbdConnections.has(index)) throw new Error(`${path}: not connected`);
        this.nbdConnections.delete(index);
        this.disks.delete(path);
        this.calls.push(`qemu-nbd --disconnect ${path}`);
      },
    };
  }

  /**
   * qemu-img as the engine sees it: an overlay is an in-memory qcow2 (real header bytes) over its
   * backing file, which the fake nbd then presents; a commit is recorded (the fake's devices hold
   * no writes to carry), a removal deletes the in-memory file.
   */
  private makeOverlayApi(installed: boolean): OverlayApi {
    const exists = (path: string) =>
      this.files.has(path) || lstatSync(path, { throwIfNoEntry: false }) !== undefined;
    return {
      missingTool: () =>
        installed
          ? undefined
          : 'qemu-img not found on PATH: install it (Debian/Ubuntu: apt install qemu-utils)',
      exists,
      create: async (overlay, backing, backingFormat) => {
        this.inject('overlay.create', overlay);
        if (!installed) throw new Error('qemu-img not found on PATH');
        if (exists(overlay)) throw kernelError('open', overlay, 'EEXIST');
        const disk = this.openDisk(backing, this.fileSize(backing), 512);
        let size = disk.size;
        try {
          const opened = backingFormat === 'raw' ? null : openContainer(disk, { path: backing });
          size = opened?.virtualSize ?? size;
          opened?.close();
        } finally {
          disk.close();
        }
        this.files.set(overlay, qcow2OverlayBytes(size, backing, backingFormat));
        this.calls.push(`qemu-img create -f qcow2 -F ${backingFormat} -b ${backing} ${overlay}`);
      },
      commit: async (overlay) => {
        this.inject('overlay.commit', overlay);
        if (!this.files.has(overlay)) throw new Error(`${overlay}: no such overlay`);
        this.calls.push(`qemu-img commit ${overlay}`);
      },
      remove: (overlay) => {
        if (!this.files.delete(overlay)) throw kernelError('unlink', overlay, 'ENOENT');
        this.calls.push(`rm ${overlay}`);
      },
    };
  }

  private inject(op: FakeOp, device: string): void {
    for (const injection of this.injections) {
      if (injection.op !== op) continue;
      if (injection.device !== undefined && injection.device !== device) continue;
      injection.seen++;
      if (injection.nth === undefined || injection.nth === injection.seen) {
        throw kernelError(op, device, injection.code);
      }
    }
  }

  private pathExists(path: string): boolean {
    if (this.files.has(path) || this.resolve(path)) return true;
    try {
      statSync(path);
      return true;
    } catch {
      return false;
    }
  }

  private readFile(path: string, offset: number, length: number): Uint8Array {
    const bytes = this.files.get(path);
    if (bytes) return bytes.slice(offset, offset + length);
    // A loop over a block device (a partition's loop or map) reads that device.
    const device = this.resolve(path);
    if (device) return this.readDevice(device, offset, length);
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const n = Math.max(0, Math.min(length, size - offset));
      const out = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const got = readSync(fd, out, done, n - done, offset + done);
        if (got <= 0) break;
        done += got;
      }
      return out.subarray(0, done);
    } finally {
      closeSync(fd);
    }
  }

  private loopByPath(path: string): FakeLoop | undefined {
    const match = /^\/dev\/loop(\d+)$/.exec(path);
    if (!match) return undefined;
    return this.loops.get(Number(match[1])) ?? undefined;
  }

  private mapByPath(path: string): FakeMap | undefined {
    const named = /^\/dev\/mapper\/(.+)$/.exec(path);
    if (named) return this.maps.get(named[1]!);
    const numbered = /^\/dev\/dm-(\d+)$/.exec(path);
    if (numbered) return [...this.maps.values()].find((m) => m.minor === Number(numbered[1]));
    return undefined;
  }

  /** Where a /dev/mapper symlink (the loop backend's map path) points, as the kernel follows it. */
  private mapperLink(path: string): string | undefined {
    if (posix.dirname(path) !== '/dev/mapper') return undefined;
    const entry = this.mapper?.get(posix.basename(path));
    return entry?.kind === 'symlink' ? entry.target : undefined;
  }

  private resolve(path: string): { disk: FakeDisk } | { loop: FakeLoop } | { map: FakeMap } | undefined {
    const linked = this.mapperLink(path);
    if (linked) return this.resolve(linked);
    const disk = this.disks.get(path);
    if (disk) return { disk };
    const loop = this.loopByPath(path);
    if (loop) return { loop };
    const map = this.mapByPath(path);
    if (map) return { map };
    return undefined;
  }

  private resolveDevNo(devno: DevNo) {
    if (devno.major === LOOP_MAJOR) return this.resolve(`/dev/loop${devno.minor}`);
    if (devno.major === this.dmMajor) return this.resolve(`/dev/dm-${devno.minor}`);
    const disk = [...this.disks.values()].find(
      (d) => d.devno.major === devno.major && d.devno.minor === devno.minor,
    );
    return disk ? { disk } : undefined;
  }

  private loopSize(loop: FakeLoop): number {
    // A loop may be bound over a block device (a map, another loop) as well as over a file.
    const backing = this.resolve(loop.backing)
      ? this.blockDevice(loop.backing).sizeBytes
      : this.fileSize(loop.backing);
    const available = Math.max(0, backing - loop.offset);
    const size = loop.sizeLimit > 0 ? Math.min(loop.sizeLimit, available) : available;
    return size - (size % 512);
  }

  private mapSize(map: FakeMap): number {
    return map.table.reduce((end, t) => Math.max(end, t.start + t.length), 0) * 512;
  }

  private infoOf(device: NonNullable<ReturnType<FakeMachine['resolve']>>, path: string): BlockDeviceInfo {
    const info = this.ownInfoOf(device, path);
    return this.forcedReadOnly.has(formatDevNo(info.devno)) ? { ...info, readOnly: true } : info;
  }

  /** What the device is by itself, before any BLKROSET. */
  private ownInfoOf(device: NonNullable<ReturnType<FakeMachine['resolve']>>, path: string): BlockDeviceInfo {
    if ('disk' in device) {
      const { disk } = device;
      const size = 'bytes' in disk.source ? disk.source.bytes.length : this.fileSize(disk.source.file);
      return {
        devno: disk.devno,
        sizeBytes: size,
        logicalSectorSize: disk.sectorSize,
        readOnly: disk.readOnly,
      };
    }
    if ('loop' in device) {
      const { loop } = device;
      return {
        devno: { major: LOOP_MAJOR, minor: loop.index },
        sizeBytes: this.loopSize(loop),
        logicalSectorSize: loop.blockSize,
        readOnly: loop.readOnly,
      };
    }
    const { map } = device;
    const first = map.table[0];
    const below = first?.type === 'linear' ? this.linearTarget(first.params) : undefined;
    const sectorSize = below ? this.infoOf(below.device, path).logicalSectorSize : 512;
    return {
      devno: { major: this.dmMajor, minor: map.minor },
      sizeBytes: this.mapSize(map),
      logicalSectorSize: sectorSize,
      readOnly: map.readOnly,
    };
  }

  private linearTarget(params: string) {
    const match = /^(\d+):(\d+) (\d+)$/.exec(params);
    if (!match) return undefined;
    const device = this.resolveDevNo({ major: Number(match[1]), minor: Number(match[2]) });
    return device ? { device, offset: Number(match[3]) * 512 } : undefined;
  }

  private readDevice(
    device: NonNullable<ReturnType<FakeMachine['resolve']>>,
    offset: number,
    length: number,
  ): Uint8Array {
    if ('disk' in device) {
      const { source } = device.disk;
      return 'bytes' in source
        ? source.bytes.slice(offset, offset + length)
        : this.readFile(source.file, offset, length);
    }
    if ('loop' in device) return this.readFile(device.loop.backing, device.loop.offset + offset, length);
    const target = device.map.table[0];
    if (target?.type === 'striped') return this.readStriped(target.params, offset, length);
    const linear = target?.type === 'linear' ? this.linearTarget(target.params) : undefined;
    if (!linear) return new Uint8Array(length);
    return this.readDevice(linear.device, linear.offset + offset, length);
  }

  /** A striped target's bytes (`N CHUNK dev off …`), chunk by chunk from the device each is on. */
  private readStriped(params: string, offset: number, length: number): Uint8Array {
    const [count, chunkSectors, ...rest] = params.split(' ');
    const stripes = Number(count);
    const chunk = Number(chunkSectors) * 512;
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const at = offset + done;
      const index = Math.floor(at / chunk);
      const stripe = index % stripes;
      const below = this.linearTarget(`${rest[stripe * 2]} ${rest[stripe * 2 + 1]}`);
      const take = Math.min(length - done, chunk - (at % chunk));
      if (below)
        out.set(
          this.readDevice(
            below.device,
            below.offset + Math.floor(index / stripes) * chunk + (at % chunk),
            take,
          ),
          done,
        );
      done += take;
    }
    return out;
  }

  /**
   * cryptsetup as far as the engine sees it: a map named as asked over the device, made with the
   * fake's dm calls (so `calls` shows the order), plaintext shown as a linear window past the header.
   */
  private makeCryptApi(options: FakeMachineOptions): CryptApi {
    const installed = options.cryptsetup !== false;
    return {
      missing: () => (installed ? undefined : CRYPTSETUP_MISSING),
      open: async (device, name, key, { readOnly }) => {
        this.calls.push(`crypt.open ${name}${readOnly ? ' ro' : ''}`);
        if (!installed) throw new CryptError(CRYPTSETUP_MISSING, 127);
        if (!this.dm)
          throw new CryptError('Cannot initialize device-mapper. Is dm_mod kernel module loaded?', 1);
        const given =
          'passphrase' in key
            ? key.passphrase
            : new TextDecoder().decode(this.files.get(key.keyFile) ?? new Uint8Array());
        if (!options.luks || given !== options.luks.passphrase)
          throw new CryptError('No key available with this passphrase.', 2);
        if (this.maps.has(name)) throw new CryptError(`Device ${name} already exists.`, 5);
        const below = this.blockDevice(device);
        const sectors = below.sizeBytes / 512 - options.luks.payloadSectors;
        await this.dm.create(
          name,
          `CRYPT-LUKS2-fake-${name}`,
          [
            {
              start: 0,
              length: sectors,
              type: 'linear',
              params: `${formatDevNo(below.devno)} ${options.luks.payloadSectors}`,
            },
          ],
          { readOnly },
        );
      },
      close: async (name) => {
        this.calls.push(`crypt.close ${name}`);
        if (!this.dm) throw new CryptError('Cannot initialize device-mapper.', 1);
        await this.dm.remove(name, { noFlush: false });
      },
    };
  }

  private freeMinor(): number {
    const used = new Set([...this.maps.values()].map((m) => m.minor));
    let minor = 0;
    while (used.has(minor)) minor++;
    return minor;
  }

  private mapInfo(map: FakeMap): DmMapInfo {
    return {
      name: map.name,
      uuid: map.uuid,
      devno: { major: this.dmMajor, minor: map.minor },
      openCount: map.openCount,
      readOnly: map.readOnly,
      suspended: map.suspended,
    };
  }

  /** A table is only accepted when every linear target fits on its device. */
  private checkTable(name: string, table: DmTarget[], op: string): void {
    for (const target of table) {
      if (target.type !== 'linear') continue;
      const linear = this.linearTarget(target.params);
      if (!linear) throw kernelError(op, name, 'ENXIO');
      const size = this.infoOf(linear.device, name).sizeBytes;
      if (linear.offset + target.length * 512 > size) throw kernelError(op, name, 'EINVAL');
    }
  }

  /** Held by a dm map on top of it, or by a loop device whose backing file it is. */
  private isHeld(devno: DevNo): boolean {
    const text = formatDevNo(devno);
    if ([...this.maps.values()].some((m) => m.table.some((t) => t.params.split(' ')[0] === text)))
      return true;
    // A loop bound over the device (a loop, a map) holds it open, as the kernel's loop driver does.
    return [...this.loops.values()].some((l) => {
      if (!l?.backing.startsWith('/dev/')) return false;
      const backing = this.deviceNumber(l.backing);
      return backing !== undefined && sameDevNo(backing, devno);
    });
  }

  private makeLoopApi(): MachineLoops {
    const toDevice = (loop: FakeLoop): LoopDevice => ({
      index: loop.index,
      path: `/dev/loop${loop.index}`,
      devno: { major: LOOP_MAJOR, minor: loop.index },
      backingFile: loop.backing,
      offset: loop.offset,
      sizeLimit: loop.sizeLimit,
      readOnly: loop.readOnly,
      autoclear: loop.autoclear,
      logicalSectorSize: loop.blockSize,
      name: loop.name,
    });
    const nextFreeIndex = (): number => {
      const existing = [...this.loops.keys()].sort((a, b) => a - b);
      const unbound = existing.find((i) => this.loops.get(i) === null);
      if (unbound !== undefined) return unbound;
      let index = 0;
      while (this.loops.has(index)) index++;
      return index;
    };
    const list = (): LoopDevice[] =>
      [...this.loops.values()]
        .filter((l): l is FakeLoop => l !== null)
        .sort((a, b) => a.index - b.index)
        .map(toDevice);
    return {
      list,
      scan: list,
      available: () => this.loopControl,
      geometry: (loop) => this.blockDevice(loop.path),
      nextFreeIndex,
      attach: (backing: string, options: LoopAttachOptions): LoopDevice => {
        this.inject('loop.attach', backing);
        if (!this.pathExists(backing)) throw kernelError('open', backing, 'ENOENT');
        const index = nextFreeIndex();
        const loop: FakeLoop = {
          index,
          backing,
          offset: options.offset ?? 0,
          sizeLimit: options.sizeLimit ?? 0,
          readOnly: options.readOnly,
          autoclear: options.autoclear ?? false,
          blockSize: options.blockSize ?? 512,
          name: (options.name ?? backing).slice(0, 63),
          openCount: 0,
        };
        this.loops.set(index, loop);
        this.calls.push(`loop.attach /dev/loop${index} ${backing}${options.readOnly ? ' ro' : ''}`);
        return toDevice(loop);
      },
      detach: (path: string): void => {
        this.inject('loop.detach', path);
        const loop = this.loopByPath(path);
        if (!loop) throw kernelError('LOOP_CLR_FD', path, 'ENXIO');
        // Like the kernel: a loop still in use is only marked autoclear and goes when released.
        if (loop.openCount > 0 || this.isHeld({ major: LOOP_MAJOR, minor: loop.index })) {
          loop.autoclear = true;
        } else {
          this.loops.set(loop.index, null);
        }
        this.calls.push(`loop.detach ${path}`);
      },
    };
  }

  private makeDmApi(): DmApi {
    const need = (name: string, op: string): FakeMap => {
      const map = this.maps.get(name);
      if (!map) throw kernelError(op, name, 'ENXIO');
      return map;
    };
    return {
      version: () => [4, 48, 0],
      targetTypes: () => ['linear', 'striped', 'error', 'zero'],
      list: () =>
        [...this.maps.values()]
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
          .map((m) => ({ name: m.name, devno: { major: this.dmMajor, minor: m.minor }, uuid: m.uuid })),
      info: (name) => {
        const map = this.maps.get(name);
        return map ? this.mapInfo(map) : undefined;
      },
      infoByDevNo: (devno) => {
        if (devno.major !== this.dmMajor) return undefined;
        const map = [...this.maps.values()].find((m) => m.minor === devno.minor);
        return map ? this.mapInfo(map) : undefined;
      },
      infoByUuid: (uuid) => {
        const map = uuid ? [...this.maps.values()].find((m) => m.uuid === uuid) : undefined;
        return map ? this.mapInfo(map) : undefined;
      },
      table: (name) => need(name, 'DM_TABLE_STATUS').table.map((t) => ({ ...t })),
      create: async (name, uuid, table, options) => {
        this.inject('dm.create', name);
        if (this.maps.has(name)) throw kernelError('DM_DEV_CREATE', name, 'EBUSY');
        if (uuid && [...this.maps.values()].some((m) => m.uuid === uuid)) {
          throw kernelError('DM_DEV_CREATE', name, 'EBUSY');
        }
        this.checkTable(name, table, 'DM_TABLE_LOAD');
        const devno = this.seedMap(name, uuid, table, options);
        this.calls.push(`dm.create ${name}${options.readOnly ? ' ro' : ''}`);
        return devno;
      },
      reload: async (name, table, options) => {
        this.inject('dm.reload', name);
        const map = need(name, 'DM_TABLE_LOAD');
        this.checkTable(name, table, 'DM_TABLE_LOAD');
        map.pending = { table, readOnly: options.readOnly };
        this.calls.push(`dm.reload ${name}${options.readOnly ? ' ro' : ''}`);
      },
      resume: async (name) => {
        this.inject('dm.resume', name);
        const map = need(name, 'DM_DEV_SUSPEND');
        if (map.pending) {
          map.table = map.pending.table;
          map.readOnly = map.pending.readOnly;
          map.pending = null;
        }
        map.suspended = false;
        this.calls.push(`dm.resume ${name}`);
      },
      rename: async (from, to) => {
        this.inject('dm.rename', from);
        const map = need(from, 'DM_DEV_RENAME');
        if (this.maps.has(to)) throw kernelError('DM_DEV_RENAME', from, 'EBUSY');
        this.maps.delete(from);
        map.name = to;
        this.maps.set(to, map);
        this.calls.push(`dm.rename ${from} ${to}`);
      },
      remove: async (name) => {
        this.inject('dm.remove', name);
        const map = need(name, 'DM_DEV_REMOVE');
        if (map.openCount > 0 || this.isHeld({ major: this.dmMajor, minor: map.minor })) {
          throw kernelError('DM_DEV_REMOVE', name, 'EBUSY');
        }
        this.maps.delete(name);
        this.calls.push(`dm.remove ${name}`);
        this.releaseAutoclearLoops();
      },
    };
  }

  /** Autoclear loops vanish once nothing holds them any more. */
  private releaseAutoclearLoops(): void {
    for (const loop of this.loops.values()) {
      if (!loop?.autoclear || loop.openCount > 0) continue;
      if (this.isHeld({ major: LOOP_MAJOR, minor: loop.index })) continue;
      this.loops.set(loop.index, null);
    }
  }

  private makeMountApi(): MachineMounts {
    return {
      defaultRoot: () => `${runDir()}/mnt`,
      makeMountDir: ensureMountDir,
      list: () => this.mountTable.map((m) => ({ ...m })),
      mount: (source, target, fstype, options) => {
        this.inject('mount', source);
        const device = this.resolve(source);
        if (!device) throw kernelError('mount', source, 'ENOTBLK');
        if (this.mountTable.some((m) => m.target === target)) throw kernelError('mount', source, 'EBUSY');
        const info = this.infoOf(device, source);
        // As the real kernel: a read-only device cannot take a read-write mount.
        if (info.readOnly && !options.readOnly) throw kernelError('mount', source, 'EACCES');
        this.mountTable.push({
          source,
          target,
          fstype,
          options: [
            options.readOnly ? 'ro' : 'rw',
            'nosuid',
            'nodev',
            ...(options.exec ? [] : ['noexec']),
          ].join(','),
          devno: info.devno,
        });
        if ('map' in device) device.map.openCount++;
        if ('loop' in device) device.loop.openCount++;
        this.calls.push(`mount ${source} ${target}${options.data ? ` -o ${options.data}` : ''}`);
      },
      unmount: (target) => {
        this.inject('unmount', target);
        const at = this.mountTable.findIndex((m) => m.target === target);
        if (at < 0) throw kernelError('umount', target, 'EINVAL');
        const [entry] = this.mountTable.splice(at, 1);
        const device = entry ? this.resolve(entry.source) : undefined;
        if (device && 'map' in device) device.map.openCount = Math.max(0, device.map.openCount - 1);
        if (device && 'loop' in device) device.loop.openCount = Math.max(0, device.loop.openCount - 1);
        this.calls.push(`unmount ${target}`);
        this.releaseAutoclearLoops();
      },
    };
  }

  private makeMapperDir(): FakeMachine['nodes'] {
    const dir = '/dev/mapper';
    const entries = this.mapper;
    const describe = (name: string): string | undefined => {
      const entry = entries.get(name);
      if (!entry || entry.kind === 'node') return undefined;
      return entry.kind === 'other' ? entry.what : `a symbolic link to ${entry.target}`;
    };
    const nodes: FakeMachine['nodes'] = {
      path: dir,
      blocker: (name, devno) => {
        const entry = entries.get(name);
        const linked = entry?.kind === 'symlink' ? this.deviceNumber(entry.target) : undefined;
        if (linked && devno && sameDevNo(linked, devno)) return undefined;
        const what = describe(name);
        return what ? `${dir}/${name} exists and is ${what}, not a device node; not replacing it` : undefined;
      },
      created: async (name, devno) => {
        const what = describe(name);
        if (what) return `${dir}/${name} exists and is ${what}, not a device node; not replacing it`;
        entries.set(name, { kind: 'node', devno });
        this.nodeLog.push(`+${name}`);
        return undefined;
      },
      removed: async (name, devno) => {
        const entry = entries.get(name);
        this.nodeLog.push(`-${name}`);
        if (!entry) return undefined;
        if (entry.kind === 'node' && sameDevNo(entry.devno, devno)) {
          entries.delete(name);
          return undefined;
        }
        return `${dir}/${name} is not this map's device node; left in place`;
      },
      renamed: async (from, to, devno) => {
        const what = describe(to);
        if (what) return `${dir}/${to} exists and is ${what}, not a device node; not replacing it`;
        entries.set(to, { kind: 'node', devno });
        const entry = entries.get(from);
        if (entry?.kind === 'node' && sameDevNo(entry.devno, devno)) entries.delete(from);
        this.nodeLog.push(`${from}>${to}`);
        return undefined;
      },
      list: () => [...entries.keys()].sort(),
      entry: (name): MapperEntry => {
        const entry = entries.get(name);
        if (!entry) return { kind: 'absent' };
        return entry.kind === 'symlink' ? { kind: 'symlink', target: entry.target } : { kind: 'other' };
      },
      link: (name, target) => {
        if (entries.has(name)) throw kernelError('symlink', `${dir}/${name}`, 'EEXIST');
        entries.set(name, { kind: 'symlink', target: posix.resolve(dir, target) });
      },
      unlink: (name) => {
        if (!entries.delete(name)) throw kernelError('unlink', `${dir}/${name}`, 'ENOENT');
      },
      plant: (name, what) => void entries.set(name, { kind: 'other', what }),
    };
    return nodes;
  }
}

/** A Disk with a no-op close, as openDisk hands out. */
const closable = (disk: Disk, path: string): FileDisk => ({
  path,
  get size() {
    return disk.size;
  },
  get sectorSize() {
    return disk.sectorSize;
  },
  readAt: (offset, length) => disk.readAt(offset, length),
  close() {},
});
