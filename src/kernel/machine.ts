/**
 * The real machine behind the engine's Machine interface (src/engine/machine.ts).
 *
 * Cheap questions (what a path is, which loops are bound, the next free loop, a block device's
 * size and dm name, holders) are answered from stat(2), /sys and /proc: listing an image must not
 * load the native bindings. Everything else goes through the kernel modules, whose koffi bindings
 * are required on their first call (libc.ts), and device-mapper is opened on first use.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { type DevNo, splitDevT } from '../io/devno.js';
import { openFileDisk } from '../io/file-disk.js';
import { blockDevice, blockDevNoOf, heldExclusively, setBlockReadOnly } from './block.js';
import { createCryptApi } from './cryptsetup.js';
import { createDevNodes, MAPPER_DIR } from './devnodes.js';
import { openDeviceMapper } from './dm.js';
import { filesystemSupported, mountableFilesystems } from './filesystems.js';
import { openHostCrypt } from './libcrypt.js';
import { acquireLock, lockKey, withLock } from './lock.js';
import { createLoopApi } from './loop.js';
import { lvmHostFacts } from './lvm-host.js';
import { createMountApi } from './mount.js';
import { createNbdApi, nbdPresent } from './nbd.js';
import { createOverlayApi } from './overlay.js';
import { ensureMountDir, runDir } from './run-dir.js';
import { loopFromSysfs, loopNames, loopState, readAttribute, holders as sysfsHolders } from './sysfs.js';
import type { BlockFacts, DmApi, Holder, LockSubject, LoopDevice, PathKind } from './types.js';
import { xattrs } from './xattr.js';

export interface MachineOptions {
  /** The directory map nodes and loop links go in (`/dev/mapper`). */
  mapperDir?: string;
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

/** Bound loop devices from sysfs alone (no `name`: that needs an ioctl). */
function sysfsLoops(): LoopDevice[] {
  const loops: LoopDevice[] = [];
  for (const name of loopNames()) {
    const state = loopState(name);
    if (state) loops.push(loopFromSysfs(state));
  }
  return loops;
}

function kindOf(stats: { isFile(): boolean; isBlockDevice(): boolean }): PathKind {
  if (stats.isFile()) return 'file';
  if (stats.isBlockDevice()) return 'block';
  return 'other';
}

/** Holders by kernel name, with the map name of those that are device-mapper maps. */
function holdersOf(devno: DevNo): Holder[] {
  return sysfsHolders(devno).map((kernelName) => {
    const dmName = readAttribute(`/sys/block/${kernelName}/dm/name`)?.trim();
    return dmName ? { kernelName, dmName } : { kernelName };
  });
}

function mapperDir(dir: string) {
  const nodes = createDevNodes({ dir });
  return {
    path: dir,
    blocker: nodes.blocker.bind(nodes),
    created: nodes.created.bind(nodes),
    removed: nodes.removed.bind(nodes),
    renamed: nodes.renamed.bind(nodes),
    list: () => {
      try {
        return readdirSync(dir).sort();
      } catch {
        return [];
      }
    },
    entry: (name: string) => {
      const path = `${dir}/${name}`;
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (!st) return { kind: 'absent' as const };
      if (!st.isSymbolicLink()) return { kind: 'other' as const };
      return { kind: 'symlink' as const, target: resolve(dir, readlinkSync(path)) };
    },
    link: (name: string, target: string) => {
      const path = `${dir}/${name}`;
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      symlinkSync(relative(dirname(path), target), path);
    },
    unlink: (name: string) => unlinkSync(`${dir}/${name}`),
  };
}

/** The machine this process runs on. */
export function createMachine(options: MachineOptions = {}) {
  const loops = createLoopApi();
  const mounts = createMountApi();
  let dm: DmApi | null | undefined;
  return {
    stat: (path: string) => kindOf(statSync(path)),
    realpath: (path: string) => realpathSync(path),
    fileSize: (path: string) => statSync(path).size,
    openDisk: openFileDisk,
    blockDevice,
    blockFacts: sysfsBlockInfo,
    deviceNumber: blockDevNoOf,
    holders: holdersOf,
    heldExclusively,
    setReadOnly: setBlockReadOnly,
    loop: {
      ...loops,
      scan: sysfsLoops,
      // Predicted from sysfs, never LOOP_CTL_GET_FREE: that would create a loop device.
      nextFreeIndex: () => {
        const names = loopNames();
        const bound = new Set(names.filter((n) => loopState(n)).map((n) => Number(n.slice(4))));
        return predictFreeLoopIndex(
          names.map((n) => Number(n.slice(4))),
          bound,
        );
      },
      available: () => existsSync('/dev/loop-control'),
      geometry: (loop: LoopDevice) => ({
        sizeBytes: Number(readAttribute(`/sys/block/loop${loop.index}/size`) ?? 0) * 512,
        logicalSectorSize: loop.logicalSectorSize,
      }),
    },
    get dm() {
      if (dm === undefined) dm = openDeviceMapper();
      return dm;
    },
    crypt: createCryptApi(),
    deviceMapperPresent: () => /^\s*\d+\s+device-mapper$/m.test(readAttribute('/proc/misc') ?? ''),
    nbdPresent,
    nbd: createNbdApi(),
    overlays: createOverlayApi(),
    filesystemSupported,
    mountableFilesystems,
    lvmHost: lvmHostFacts,
    mounts: {
      ...mounts,
      defaultRoot: () => `${runDir()}/mnt`,
      makeMountDir: ensureMountDir,
    },
    nodes: mapperDir(options.mapperDir ?? MAPPER_DIR),
    locks: {
      withLock: <T>(subject: LockSubject, device: string, work: () => Promise<T>, waitMs?: number) =>
        withLock(lockKey(subject), device, work, waitMs),
      lockImage: (file: string, device: string) =>
        acquireLock(lockKey({ devno: { major: 0, minor: 0 }, image: { file } }), device),
    },
    hostCrypt: () => openHostCrypt(),
    xattrs,
  };
}
