/**
 * The narrow interface between kpartx-tui and the kernel. Only src/kernel/* implements it with
 * koffi; everything above it (planning, CLI, TUI) is tested against a fake.
 */

import type { DevNo } from '../io/devno.js';

export { KernelError } from '../io/kernel-error.js';

export interface BlockDeviceInfo {
  devno: DevNo;
  sizeBytes: number;
  logicalSectorSize: number;
  readOnly: boolean;
}

export interface LoopDevice {
  index: number;
  /** `/dev/loopN` */
  path: string;
  devno: DevNo;
  /** Backing file or device as the kernel reports it (sysfs `loop/backing_file`). */
  backingFile: string;
  /** Bytes. */
  offset: number;
  /** Bytes; 0 = to the end of the backing file. */
  sizeLimit: number;
  readOnly: boolean;
  autoclear: boolean;
  logicalSectorSize: number;
  /** `lo_file_name` (LOOP_GET_STATUS64): at most 63 bytes, set by whoever attached the loop. */
  name?: string;
}

export interface LoopAttachOptions {
  readOnly: boolean;
  offset?: number;
  sizeLimit?: number;
  autoclear?: boolean;
  /** Logical block size of the new loop device (512 when absent). */
  blockSize?: number;
  /** Stored in `lo_file_name` (63 bytes kept); the backing file's path when absent, as losetup does. */
  name?: string;
}

export interface LoopApi {
  /** Bound loop devices, from sysfs. */
  list(): LoopDevice[];
  /** The index LOOP_CTL_GET_FREE hands out next (used to name maps before attaching). */
  nextFreeIndex(): number;
  attach(backing: string, options: LoopAttachOptions): LoopDevice;
  detach(path: string): void;
}

export interface DmTarget {
  /** 512-byte sectors. */
  start: number;
  length: number;
  type: string;
  params: string;
}

export interface DmMapInfo {
  name: string;
  uuid: string;
  devno: DevNo;
  openCount: number;
  readOnly: boolean;
  suspended: boolean;
}

export interface DmApi {
  version(): [number, number, number];
  targetTypes(): string[];
  list(): { name: string; devno: DevNo; uuid: string }[];
  info(name: string): DmMapInfo | undefined;
  infoByDevNo(devno: DevNo): DmMapInfo | undefined;
  infoByUuid(uuid: string): DmMapInfo | undefined;
  table(name: string): DmTarget[];
  /*
   * The calls that change maps are asynchronous: those that wait in the kernel (a removal waits
   * for an RCU grace period) run on a worker thread, so a screen stays live and independent
   * removals overlap.
   */
  create(name: string, uuid: string, table: DmTarget[], options: { readOnly: boolean }): Promise<DevNo>;
  reload(name: string, table: DmTarget[], options: { readOnly: boolean }): Promise<void>;
  resume(name: string, options: { noFlush: boolean }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(name: string, options: { noFlush: boolean }): Promise<void>;
}

export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
  options: string;
  devno: DevNo;
}

export interface MountOptions {
  readOnly: boolean;
  /** Honour execute permissions (otherwise MS_NOEXEC). Set-uid bits and device nodes never count. */
  exec?: boolean;
  /** The filesystem's own options (mount(2)'s data string), e.g. `noload`. */
  data?: string;
}

export interface MountApi {
  /** Parsed /proc/self/mountinfo. */
  list(): MountEntry[];
  /** Always `nosuid,nodev`; `noexec` unless `exec`. */
  mount(source: string, target: string, fstype: string, options: MountOptions): void;
  unmount(target: string): void;
}

export type PathKind = 'file' | 'block' | 'other';

/** What can be told about a block device cheaply (no native bindings on the real machine). */
export interface BlockFacts {
  devno: DevNo;
  sizeBytes: number;
  logicalSectorSize: number;
  /** Set when the device is a device-mapper map. */
  dm?: { name: string; uuid: string };
}

/** A device stacked on another one (sysfs `holders`). */
export interface Holder {
  /** Kernel name: `dm-3`, `loop5`, `md0`. */
  kernelName: string;
  /** The map's name when the holder is a device-mapper map. */
  dmName?: string;
}

/** What is at `<mapper dir>/<name>`. */
export type MapperEntry =
  | { kind: 'absent' }
  /** `target` is absolute (resolved against the directory). */
  | { kind: 'symlink'; target: string }
  | { kind: 'other' };

/** What a lock is about: the image file when there is one, else the device number. */
export interface LockSubject {
  devno: DevNo;
  image?: { file: string };
}

/** A connected /dev/nbdN. */
export interface NbdConnection {
  /** `/dev/nbd0`. */
  path: string;
  index: number;
  /** qemu-nbd's id as the kernel reports it (`/sys/block/nbdN/pid`). */
  pid: number;
  /** The image, known only for a connection kpartx-tui made (from its record). */
  file?: string;
  /** kpartx-tui connected it: its record names this device and this pid. */
  ours: boolean;
  readOnly: boolean;
}

/**
 * qcow2 overlay files over an image (the host's qemu-img): the original is only ever the backing
 * file, opened read-only, until a commit writes the overlay's clusters into it.
 */
export interface OverlayApi {
  /** Why overlays cannot be made and attached here (qemu-img or qemu-nbd missing); undefined when they can. */
  missingTool(): string | undefined;
  /** Whether anything is at `path` (not following a symlink). */
  exists(path: string): boolean;
  /**
   * `qemu-img create -f qcow2 -F FORMAT -b BACKING OVERLAY`, never over an existing path (the file
   * is made exclusively first). Nothing is left at `overlay` when it fails.
   */
  create(overlay: string, backing: string, backingFormat: string): Promise<void>;
  /** `qemu-img commit`: the overlay's clusters written into its backing file. */
  commit(overlay: string): Promise<void>;
  /** Delete the overlay file (a regular file only). */
  remove(overlay: string): void;
}

/** How a LUKS volume is unlocked: a passphrase (handed over on a pipe, never argv or env) or a key file. */
export type LuksKey = { passphrase: string } | { keyFile: string };

/** Opening and closing LUKS volumes (the host's cryptsetup over dm-crypt). */
export interface CryptApi {
  /** Why cryptsetup cannot be run here (it is not installed); undefined when it can. */
  missing(): string | undefined;
  /** `cryptsetup open --type luks [--readonly] DEVICE NAME`; a CryptError with cryptsetup's words on failure. */
  open(device: string, name: string, key: LuksKey, options: { readOnly: boolean }): Promise<void>;
  /** `cryptsetup close NAME`. */
  close(name: string): Promise<void>;
}

/** cryptsetup refused (a wrong passphrase, a damaged header, a busy device): its message. */
export class CryptError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CryptError';
  }
}

/** What the host's lvm2 would do on its own when a PV appears (read from files by lvm-host.ts). */
export interface LvmHostFacts {
  /** An lvm2 udev rule that auto-activates (69-lvm.rules or 69-dm-lvm.rules), by path. */
  rule: string | null;
  /** lvm.conf global/event_activation (1 when not set). */
  eventActivation: boolean;
  /** udev is running (its control socket exists). */
  udev: boolean;
}

/** The host's libxcrypt (crypt(3) and crypt_gensalt), for hashing a guest's new password. */
export interface CryptLibrary {
  /** The soname that loaded. */
  readonly name: string;
  /** A setting for `prefix` (`$y$`, `$6$`…) with `count` (cost or rounds; 0 = the library's default). */
  gensalt(prefix: string, count: number): string;
  /** crypt(3): the hash of `phrase` for `setting` (a setting or a full hash to verify against). */
  crypt(phrase: string, setting: string): string;
}

/** Extended attributes on open descriptors: what carries a file's SELinux label to its replacement. */
export interface XattrApi {
  list(fd: number): string[];
  get(fd: number, name: string): Buffer;
  set(fd: number, name: string, value: Buffer): void;
  remove(fd: number, name: string): void;
}
