/**
 * From the operand the user typed to the whole-disk device whose partitions get mapped: an image
 * file goes through a loop device (one already bound to it, else the next free one), a block
 * device is used as typed. Every failure is a SourceError carrying the C kpartx's message, stream
 * and exit status.
 *
 * Listing an image never attaches anything: the loop `-a` would use is predicted from sysfs (the
 * kernel hands out the lowest free index) and the file is read directly. That path must not load
 * the native kernel bindings, so the Host reads sysfs itself and loads the kernel only on demand.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import type { DevNo } from '../io/devno.js';
import { splitDevT } from '../io/devno.js';
import type { Disk } from '../io/disk.js';
import { errnoNumber, strerrorOf } from '../io/errno.js';
import { type FileDisk, openFileDisk } from '../io/file-disk.js';
import { loopFromSysfs, loopNames, loopState, readAttribute } from '../kernel/sysfs.js';
import type { DmMapInfo, Kernel, LoopDevice } from '../kernel/types.js';
import type { ParentDevice } from './backend.js';
import { errorText } from './errors.js';
import { imageLoopName } from './image-loop.js';
import { lastPathComponent, parentUuid } from './names.js';

export type Action = 'list' | 'add' | 'delete' | 'update';

/** glibc's strerror text for the errors an open/stat/realpath can give here. */
/** A failure with the exact output the C tool gives for it. */
export class SourceError extends Error {
  constructor(
    message: string,
    readonly stream: 'stdout' | 'stderr',
    readonly exitCode = 1,
    /** Extra stderr lines printed before the message (e.g. the system error behind it). */
    readonly before: string[] = [],
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

export type PathKind = 'file' | 'block' | 'other';

export interface BlockFacts {
  devno: DevNo;
  sizeBytes: number;
  logicalSectorSize: number;
  /** Set when the device is a device-mapper map. */
  dm?: { name: string; uuid: string };
}

/** Block device facts from stat(2) and /sys/dev/block/MAJ:MIN. */
export function sysfsBlockInfo(path: string): BlockFacts | undefined {
  let devno: DevNo;
  try {
    const st = statSync(path, { bigint: true });
    if (!st.isBlockDevice()) return undefined;
    devno = splitDevT(st.rdev);
  } catch {
    return undefined;
  }
  const dir = `/sys/dev/block/${devno.major}:${devno.minor}`;
  const sectors = readAttribute(`${dir}/size`);
  if (sectors === undefined || !/^\d+$/.test(sectors)) return undefined;
  // A partition has no queue/ of its own: its disk's is one level up.
  const sectorSize =
    Number(
      readAttribute(`${dir}/queue/logical_block_size`) ?? readAttribute(`${dir}/../queue/logical_block_size`),
    ) || 512;
  const dmName = readAttribute(`${dir}/dm/name`);
  return {
    devno,
    sizeBytes: Number(sectors) * 512,
    logicalSectorSize: sectorSize,
    ...(dmName ? { dm: { name: dmName, uuid: readAttribute(`${dir}/dm/uuid`) ?? '' } } : {}),
  };
}

/** The same facts from the kernel interface (block ioctls and a device-mapper lookup). */
function kernelBlockInfo(kernel: Kernel, path: string): BlockFacts {
  const info = kernel.blockDevice(path);
  let dm: DmMapInfo | undefined;
  try {
    dm = kernel.dm?.infoByDevNo(info.devno);
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

/** Everything source resolution needs from the machine; tests put a FakeKernel behind it. */
export interface Host {
  /** stat(2), following symlinks; throws like fs.statSync. */
  stat(path: string): PathKind;
  realpath(path: string): string;
  /** Bound loop devices, cheaply (no native bindings). */
  loops(): LoopDevice[];
  /** The index the kernel will hand out for the next loop attach. */
  nextFreeLoopIndex(): number;
  /** Size in bytes and logical sector size of a bound loop device. */
  loopGeometry(loop: LoopDevice): { sizeBytes: number; logicalSectorSize: number };
  /** Size of a regular file in bytes. */
  fileSize(path: string): number;
  /**
   * Number, size, sector size and dm name/UUID of a block device, without the kernel bindings
   * (sysfs); undefined when that source cannot tell, and the kernel is asked instead.
   */
  blockInfo(path: string): BlockFacts | undefined;
  /** Read `path` (a file or device node) as a Disk of `size` bytes. Throws like fs.openSync. */
  openDisk(path: string, size: number, sectorSize: number): FileDisk;
  /** The full kernel (loop attach, block device ioctls, device-mapper), loaded on first use. */
  kernel(): Promise<Kernel>;
  /** Whether loop devices can be attached at all (the loop backend's prerequisite). */
  loopAvailable(): boolean;
  /** Whether the kernel has device-mapper, answered without the kernel bindings. */
  deviceMapperPresent(): boolean;
}

/** Same rule as the kernel's LOOP_CTL_GET_FREE: the lowest existing unbound loop, else the lowest unused index. */
export function predictFreeLoopIndex(existing: number[], bound: Set<number>): number {
  const sorted = [...existing].sort((a, b) => a - b);
  const unbound = sorted.find((index) => !bound.has(index));
  if (unbound !== undefined) return unbound;
  const present = new Set(sorted);
  let index = 0;
  while (present.has(index)) index++;
  return index;
}

function sysfsLoops(): LoopDevice[] {
  const loops: LoopDevice[] = [];
  for (const name of loopNames()) {
    const state = loopState(name);
    if (!state) continue;
    loops.push(loopFromSysfs(state));
  }
  return loops;
}

function kindOf(stats: { isFile(): boolean; isBlockDevice(): boolean }): PathKind {
  if (stats.isFile()) return 'file';
  if (stats.isBlockDevice()) return 'block';
  return 'other';
}

/** The real machine. The kernel module (and its native bindings) is imported only when needed. */
export function realHost(load: () => Promise<Kernel> = defaultKernelLoader): Host {
  let kernel: Promise<Kernel> | undefined;
  return {
    stat: (path) => kindOf(statSync(path)),
    realpath: (path) => realpathSync(path),
    loops: sysfsLoops,
    nextFreeLoopIndex: () => {
      const names = loopNames();
      const bound = new Set(names.filter((n) => loopState(n)).map((n) => Number(n.slice(4))));
      return predictFreeLoopIndex(
        names.map((n) => Number(n.slice(4))),
        bound,
      );
    },
    loopGeometry: (loop) => ({
      sizeBytes: Number(readAttribute(`/sys/block/loop${loop.index}/size`) ?? 0) * 512,
      logicalSectorSize: loop.logicalSectorSize,
    }),
    fileSize: (path) => statSync(path).size,
    blockInfo: sysfsBlockInfo,
    openDisk: openFileDisk,
    kernel: () => {
      kernel ??= load();
      return kernel;
    },
    loopAvailable: () => existsSync('/dev/loop-control'),
    deviceMapperPresent: () => /^\s*\d+\s+device-mapper$/m.test(readAttribute('/proc/misc') ?? ''),
  };
}

async function defaultKernelLoader(): Promise<Kernel> {
  const { createKernel } = await import('../kernel/index.js');
  return createKernel();
}

/** What a FakeKernel offers beyond the Kernel interface (duck-typed to keep it out of production imports). */
interface DeviceAccess {
  isBlockDevice(path: string): boolean;
  openDisk(path: string): Disk;
  memoryFile?(path: string): Uint8Array | undefined;
}

const hasDeviceAccess = (kernel: Kernel): kernel is Kernel & DeviceAccess =>
  typeof (kernel as Partial<DeviceAccess>).isBlockDevice === 'function' &&
  typeof (kernel as Partial<DeviceAccess>).openDisk === 'function';

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

/**
 * A Host over a given Kernel. A FakeKernel's devices (and in-memory files) are served by the fake;
 * every other path is the real file system. With a real kernel, loops are read from sysfs.
 */
export function hostFor(kernel: Kernel): Host {
  if (!hasDeviceAccess(kernel)) {
    const host = realHost(async () => kernel);
    return { ...host, loops: () => kernel.loop.list() };
  }
  const memory = (path: string) => kernel.memoryFile?.(path);
  return {
    stat: (path) => {
      if (kernel.isBlockDevice(path)) return 'block';
      if (memory(path)) return 'file';
      return kindOf(statSync(path));
    },
    realpath: (path) => (kernel.isBlockDevice(path) || memory(path) ? path : realpathSync(path)),
    loops: () => kernel.loop.list(),
    nextFreeLoopIndex: () => kernel.loop.nextFreeIndex(),
    loopGeometry: (loop) => kernel.blockDevice(loop.path),
    fileSize: (path) => memory(path)?.length ?? statSync(path).size,
    blockInfo: (path) => (kernel.isBlockDevice(path) ? kernelBlockInfo(kernel, path) : undefined),
    openDisk: (path, size, sectorSize) => {
      if (kernel.isBlockDevice(path)) return closable(kernel.openDisk(path), path);
      const bytes = memory(path);
      if (bytes) {
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
      return openFileDisk(path, size, sectorSize);
    },
    kernel: async () => kernel,
    loopAvailable: () => true,
    deviceMapperPresent: () => kernel.dm !== null,
  };
}

export interface ResolveOptions {
  /** `-r`: maps and a loop attached here are read-only. */
  readOnly: boolean;
}

export interface ResolvedSource {
  operand: string;
  parent: ParentDevice;
  /** For an image file: the loop used, and whether it was already bound, predicted, or attached now. */
  loop?: { path: string; state: 'found' | 'predicted' | 'attached' };
  /** The run is read-only: `-r`, or the image could only be attached read-only. */
  readOnly: boolean;
  /** Where the table is read from and how large the device is. */
  read: { path: string; sizeBytes: number; sectorSize: number };
}

/** `-d` on an image with no loop bound: nothing to do, exit 0. */
export interface NothingBound {
  operand: string;
  nothing: true;
}

/** A whole-file loop bound to `file` (offset 0, no size limit), lowest index first. */
export function findBoundLoop(loops: LoopDevice[], file: string): LoopDevice | undefined {
  return [...loops]
    .sort((a, b) => a.index - b.index)
    .find((loop) => loop.backingFile === file && loop.offset === 0 && loop.sizeLimit === 0);
}

const wholeSectors = (bytes: number): number => bytes - (bytes % 512);

/** Whether resolving needs the full kernel: listing does not, unless sysfs cannot describe the device. */
export const needsKernel = (kind: PathKind, action: Action, facts: () => BlockFacts | undefined): boolean =>
  action !== 'list' || (kind === 'block' && facts() === undefined);

function statKind(operand: string, host: Host): PathKind {
  try {
    return host.stat(operand);
  } catch {
    throw new SourceError(`failed to stat() ${operand}`, 'stdout');
  }
}

/** Resolve with the kernel loaded only when the operand and action need it. */
export async function resolveSource(
  operand: string,
  action: Action,
  options: ResolveOptions,
  host: Host,
): Promise<ResolvedSource | NothingBound> {
  const kind = statKind(operand, host);
  const kernel = needsKernel(kind, action, () => host.blockInfo(operand)) ? await host.kernel() : undefined;
  return resolveSourceWith(operand, action, options, host, kernel);
}

/** Synchronous resolution for callers that already hold a kernel (or only list images). */
export function resolveSourceWith(
  operand: string,
  action: Action,
  options: ResolveOptions,
  host: Host,
  kernel: Kernel | undefined,
): ResolvedSource | NothingBound {
  const kind = statKind(operand, host);
  const needKernel = (): Kernel => {
    if (!kernel) throw new Error(`${operand}: the kernel interface is needed here but was not loaded`);
    return kernel;
  };
  if (kind === 'file') return resolveImage(operand, action, options, host, needKernel);
  if (kind === 'block') {
    const facts = host.blockInfo(operand);
    return resolveBlockDevice(operand, options, () => facts ?? kernelBlockInfo(needKernel(), operand));
  }
  throw new SourceError(`invalid device: ${operand}`, 'stderr');
}

function resolveImage(
  operand: string,
  action: Action,
  options: ResolveOptions,
  host: Host,
  needKernel: () => Kernel,
): ResolvedSource | NothingBound {
  let file: string;
  try {
    file = host.realpath(operand);
  } catch (error) {
    throw new SourceError(`Error: ${operand}: ${strerrorOf(error)}`, 'stderr');
  }
  const bound = findBoundLoop(host.loops(), file);
  const image = (loopAttachedByUs: boolean) => ({ file, loopAttachedByUs });
  if (bound) {
    const geometry = host.loopGeometry(bound);
    return {
      operand,
      parent: loopParent(
        bound.path,
        bound.index,
        geometry.sizeBytes,
        geometry.logicalSectorSize,
        image(false),
      ),
      loop: { path: bound.path, state: 'found' },
      readOnly: options.readOnly || bound.readOnly,
      read: { path: bound.path, sizeBytes: geometry.sizeBytes, sectorSize: geometry.logicalSectorSize },
    };
  }
  if (action === 'delete') return { operand, nothing: true };
  if (action === 'list') {
    const index = host.nextFreeLoopIndex();
    const size = wholeSectors(host.fileSize(file));
    return {
      operand,
      parent: loopParent(`/dev/loop${index}`, index, size, 512, image(false)),
      loop: { path: `/dev/loop${index}`, state: 'predicted' },
      readOnly: options.readOnly,
      read: { path: file, sizeBytes: size, sectorSize: 512 },
    };
  }
  const kernel = needKernel();
  // Another run may be attaching a loop for this image right now: look again under the image lock
  // and share its loop instead of attaching a second one.
  const lock = kernel.lockImage?.(file, operand);
  let loop: LoopDevice;
  try {
    const raced = findBoundLoop(kernel.loop.list(), file);
    if (raced) {
      return {
        operand,
        parent: loopParent(raced.path, raced.index, ...geometryOf(kernel, raced.path), image(false)),
        loop: { path: raced.path, state: 'found' },
        readOnly: options.readOnly || raced.readOnly,
        read: { path: raced.path, ...readGeometry(kernel, raced.path) },
      };
    }
    loop = kernel.loop.attach(file, { readOnly: options.readOnly, name: imageLoopName(file) });
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw new SourceError("can't set up loop", 'stderr', 1, [errorText(error)]);
  } finally {
    lock?.release();
  }
  const geometry = kernel.blockDevice(loop.path);
  return {
    operand,
    parent: loopParent(loop.path, loop.index, geometry.sizeBytes, geometry.logicalSectorSize, image(true)),
    loop: { path: loop.path, state: 'attached' },
    readOnly: options.readOnly || loop.readOnly,
    read: { path: loop.path, sizeBytes: geometry.sizeBytes, sectorSize: geometry.logicalSectorSize },
  };
}

const geometryOf = (kernel: Kernel, path: string): [number, number] => {
  const info = kernel.blockDevice(path);
  return [info.sizeBytes, info.logicalSectorSize];
};

const readGeometry = (kernel: Kernel, path: string) => {
  const [sizeBytes, sectorSize] = geometryOf(kernel, path);
  return { sizeBytes, sectorSize };
};

function loopParent(
  path: string,
  index: number,
  sizeBytes: number,
  sectorSize: number,
  image: { file: string; loopAttachedByUs: boolean },
): ParentDevice {
  const devno = { major: 7, minor: index };
  return {
    path,
    devno,
    sizeSectors: Math.floor(sizeBytes / 512),
    logicalSectorSize: sectorSize,
    uuid: parentUuid(undefined, devno),
    mapName: lastPathComponent(path),
    image,
  };
}

function resolveBlockDevice(
  operand: string,
  options: ResolveOptions,
  describe: () => BlockFacts,
): ResolvedSource {
  let info: BlockFacts;
  try {
    info = describe();
  } catch (error) {
    throw new SourceError(`${operand}: ${kernelStrerror(error)}`, 'stderr');
  }
  return {
    operand,
    parent: {
      path: operand,
      devno: info.devno,
      sizeSectors: Math.floor(info.sizeBytes / 512),
      logicalSectorSize: info.logicalSectorSize,
      uuid: parentUuid(info.dm?.uuid, info.devno),
      mapName: info.dm ? info.dm.name : lastPathComponent(operand),
    },
    readOnly: options.readOnly,
    read: { path: operand, sizeBytes: info.sizeBytes, sectorSize: info.logicalSectorSize },
  };
}

/** The strerror part of a KernelError or fs error. */
function kernelStrerror(error: unknown): string {
  const code = (error as { code?: string } | null)?.code;
  if (code && errnoNumber(code) !== 5) return strerrorOf(error);
  const message = errorText(error);
  const colon = message.lastIndexOf(': ');
  return colon >= 0 ? message.slice(colon + 2) : message;
}

/**
 * Open what the table is read from; failure reads `<path>: <strerror>` like perror, naming what
 * was opened: the image file itself when no loop is bound to it yet (the loop is only predicted).
 */
export function openSourceDisk(source: ResolvedSource, host: Host): FileDisk {
  const { path, sizeBytes, sectorSize } = source.read;
  try {
    return host.openDisk(path, sizeBytes, sectorSize);
  } catch (error) {
    throw new SourceError(`${path}: ${strerrorOf(error)}`, 'stderr');
  }
}
