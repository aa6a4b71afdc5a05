/**
 * From the operand the user typed to the whole-disk device whose partitions get mapped: an image
 * file goes through a loop device (one already bound to it, else the next free one), a block
 * device is used as typed. Every failure is a SourceError carrying the C kpartx's message and what
 * kind of failure it is (the CLI picks the stream and exit status from that).
 *
 * Listing an image never attaches anything: the loop `-a` would use is predicted (the kernel hands
 * out the lowest free index) and the file is read directly. That path asks the Machine only its
 * cheap questions (loop.scan, loop.nextFreeIndex, blockFacts), which never load native bindings.
 */
import { errnoNumber, strerrorOf } from '../io/errno.js';
import type { FileDisk } from '../io/file-disk.js';
import type { ParentDevice } from './backend.js';
import { errorText } from './errors.js';
import { imageLoopName } from './image-loop.js';
import type { BlockFacts, LoopDevice, Machine, PathKind } from './machine.js';
import { lastPathComponent, parentUuid } from './names.js';

export type Action = 'list' | 'add' | 'delete' | 'update';

/**
 * Why an operand cannot be used, in the C kpartx's words. `kind` says which failure it is; the
 * CLI decides from it which stream the message goes to and the exit status (src/cli/source-errors.ts).
 */
export class SourceError extends Error {
  constructor(
    message: string,
    readonly kind: SourceFailure,
    /** The system error behind it, when there is one (the C tool prints it first). */
    readonly systemError?: string,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

export type SourceFailure =
  /** stat(2) failed on the operand. */
  | 'stat'
  /** Neither a regular file nor a block device. */
  | 'invalid'
  /** realpath(3) failed on an image. */
  | 'realpath'
  /** No loop device could be attached to an image. */
  | 'loop'
  /** The block device could not be described. */
  | 'device'
  /** What the table is read from could not be opened. */
  | 'open';

/** The same facts from the kernel (block ioctls and a device-mapper lookup). */
function kernelBlockInfo(machine: Machine, path: string): BlockFacts {
  const info = machine.blockDevice(path);
  let dm: ReturnType<NonNullable<Machine['dm']>['infoByDevNo']>;
  try {
    dm = machine.dm?.infoByDevNo(info.devno);
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

function statKind(operand: string, machine: Machine): PathKind {
  try {
    return machine.stat(operand);
  } catch {
    throw new SourceError(`failed to stat() ${operand}`, 'stat');
  }
}

/** Resolve the operand; listing an image asks the machine only cheap questions (no native bindings). */
export async function resolveSource(
  operand: string,
  action: Action,
  options: ResolveOptions,
  machine: Machine,
): Promise<ResolvedSource | NothingBound> {
  return resolveSourceWith(operand, action, options, machine);
}

/** resolveSource, synchronously (a batch of listings). */
export function resolveSourceWith(
  operand: string,
  action: Action,
  options: ResolveOptions,
  machine: Machine,
): ResolvedSource | NothingBound {
  const kind = statKind(operand, machine);
  if (kind === 'file') return resolveImage(operand, action, options, machine);
  if (kind === 'block') {
    const facts = machine.blockFacts(operand);
    return resolveBlockDevice(operand, options, () => facts ?? kernelBlockInfo(machine, operand));
  }
  throw new SourceError(`invalid device: ${operand}`, 'invalid');
}

function resolveImage(
  operand: string,
  action: Action,
  options: ResolveOptions,
  machine: Machine,
): ResolvedSource | NothingBound {
  let file: string;
  try {
    file = machine.realpath(operand);
  } catch (error) {
    throw new SourceError(`Error: ${operand}: ${strerrorOf(error)}`, 'realpath');
  }
  const bound = findBoundLoop(machine.loop.scan(), file);
  const image = (loopAttachedByUs: boolean) => ({ file, loopAttachedByUs });
  if (bound) {
    const geometry = machine.loop.geometry(bound);
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
    const index = machine.loop.nextFreeIndex();
    const size = wholeSectors(machine.fileSize(file));
    return {
      operand,
      parent: loopParent(`/dev/loop${index}`, index, size, 512, image(false)),
      loop: { path: `/dev/loop${index}`, state: 'predicted' },
      readOnly: options.readOnly,
      read: { path: file, sizeBytes: size, sectorSize: 512 },
    };
  }
  // Another run may be attaching a loop for this image right now: look again under the image lock
  // and share its loop instead of attaching a second one.
  const lock = machine.locks.lockImage(file, operand);
  let loop: LoopDevice;
  try {
    const raced = findBoundLoop(machine.loop.list(), file);
    if (raced) {
      return {
        operand,
        parent: loopParent(raced.path, raced.index, ...geometryOf(machine, raced.path), image(false)),
        loop: { path: raced.path, state: 'found' },
        readOnly: options.readOnly || raced.readOnly,
        read: { path: raced.path, ...readGeometry(machine, raced.path) },
      };
    }
    loop = machine.loop.attach(file, { readOnly: options.readOnly, name: imageLoopName(file) });
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw new SourceError("can't set up loop", 'loop', errorText(error));
  } finally {
    lock.release();
  }
  const geometry = machine.blockDevice(loop.path);
  return {
    operand,
    parent: loopParent(loop.path, loop.index, geometry.sizeBytes, geometry.logicalSectorSize, image(true)),
    loop: { path: loop.path, state: 'attached' },
    readOnly: options.readOnly || loop.readOnly,
    read: { path: loop.path, sizeBytes: geometry.sizeBytes, sectorSize: geometry.logicalSectorSize },
  };
}

const geometryOf = (machine: Machine, path: string): [number, number] => {
  const info = machine.blockDevice(path);
  return [info.sizeBytes, info.logicalSectorSize];
};

const readGeometry = (machine: Machine, path: string) => {
  const [sizeBytes, sectorSize] = geometryOf(machine, path);
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
    throw new SourceError(`${operand}: ${kernelStrerror(error)}`, 'device');
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
export function openSourceDisk(source: ResolvedSource, machine: Machine): FileDisk {
  const { path, sizeBytes, sectorSize } = source.read;
  try {
    return machine.openDisk(path, sizeBytes, sectorSize);
  } catch (error) {
    throw new SourceError(`${path}: ${strerrorOf(error)}`, 'open');
  }
}
