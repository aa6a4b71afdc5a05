/**
 * /dev/mapper/<name> block nodes. device-mapper itself only makes /dev/dm-N (devtmpfs); the named
 * node is udev's job. With udev running we wait for it (bounded, `-s`) or leave it to udev (`-n`);
 * without udev nobody else will make it, so we mknod and unlink it ourselves.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  type Stats,
  statSync,
  unlinkSync,
} from 'node:fs';
import type { DevNo } from '../io/devno.js';
import { mknodBlock } from './libc.js';

export const MAPPER_DIR = '/dev/mapper';
export const UDEV_CONTROL = '/run/udev/control';
/** How long `-s` waits for udev to make or drop a node before saying so. */
export const DEFAULT_NODE_WAIT_MS = 10_000;

export interface NodeOptions {
  /** `-s`: wait for udev; `-n`: do not. */
  sync: boolean;
  /** mode/uid/gid for a node we create come from this device (the parent), as the C tool does. */
  like?: string;
}

/**
 * What the dm backend needs from /dev/mapper; tests substitute an in-memory one. Only block device
 * nodes are ever replaced or removed: a regular file, a directory or a symlink someone else put at
 * /dev/mapper/<name> stays, and the map that would need that path is refused.
 */
export interface DevNodes {
  /**
   * Why /dev/mapper/<name> cannot be the node of a map (of `devno`, when it exists already): the
   * entry there is not a device node. undefined when the path is free or holds a block node.
   */
  blocker(name: string, devno?: DevNo): string | undefined;
  /** Make sure /dev/mapper/<name> is the block node of `devno`; a warning text when it could not. */
  created(name: string, devno: DevNo, options: NodeOptions): Promise<string | undefined>;
  /** The map `devno` is gone: make sure its node is too (a warning text when something else is there). */
  removed(name: string, devno: DevNo, options: NodeOptions): Promise<string | undefined>;
  renamed(from: string, to: string, devno: DevNo, options: NodeOptions): Promise<string | undefined>;
}

const decodeRdev = (rdev: number): DevNo => ({
  major: (rdev >>> 8) & 0xfff,
  minor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00),
});

/** udev is running when its control socket exists and a udevd process is alive. */
export function udevRunning(): boolean {
  if (!existsSync(UDEV_CONTROL)) return false;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return false;
  }
  for (const pid of pids) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (comm === 'systemd-udevd' || comm === 'udevd') return true;
    } catch {
      // the process went away
    }
  }
  return false;
}

/**
 * The node's device number when `path` is a block device, else undefined. (No exception for a
 * missing node: this runs for every map, and a thrown error costs more than the stat.)
 */
function nodeDevNo(path: string): DevNo | undefined {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    return st?.isBlockDevice() ? decodeRdev(st.rdev) : undefined;
  } catch {
    return undefined;
  }
}

const same = (a: DevNo | undefined, b: DevNo): boolean => a?.major === b.major && a?.minor === b.minor;

/** Poll without blocking: other maps' operations go on meanwhile. */
async function waitUntil(test: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (test()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((done) => setTimeout(done, 10));
  }
}

interface NodeOwner {
  mode: number;
  uid: number;
  gid: number;
}

/** Mode and owner copied from `like`; device-mapper's default 0600 root:root without one. */
function ownerOf(like: string | undefined): NodeOwner {
  const st = like ? statSync(like, { throwIfNoEntry: false }) : undefined;
  return st ? { mode: st.mode & 0o777, uid: st.uid, gid: st.gid } : { mode: 0o600, uid: 0, gid: 0 };
}

/** What a directory entry is, in words, for refusals. */
function kindOf(st: Stats, path: string): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) {
    let target = '?';
    try {
      target = readlinkSync(path);
    } catch {
      // gone meanwhile
    }
    return `a symbolic link to ${target}`;
  }
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  return 'not a block device';
}

/**
 * The entry at `path` when it may not be replaced or removed: anything but a block device node,
 * except a symlink to exactly `devno` (udev's way of making /dev/mapper names) or, with
 * `symlinksAllowed` (udev running, whose links these are), any symlink.
 */
function foreignEntry(path: string, devno: DevNo | undefined, symlinksAllowed: boolean): string | undefined {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st || st.isBlockDevice()) return undefined;
  if (st.isSymbolicLink() && (symlinksAllowed || (devno && same(nodeDevNo(path), devno)))) return undefined;
  return `${path} exists and is ${kindOf(st, path)}, not a device node; not replacing it`;
}

/** mknod /dev/mapper/<name> (replacing a stale block node, nothing else) with the given mode and owner. */
function placeNode(dir: string, name: string, devno: DevNo, owner: NodeOwner): void {
  const path = `${dir}/${name}`;
  if (same(nodeDevNo(path), devno)) return;
  const foreign = foreignEntry(path, devno, false);
  if (foreign) throw new Error(foreign);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (lstatSync(path, { throwIfNoEntry: false })) unlinkSync(path);
  mknodBlock(path, owner.mode, devno.major, devno.minor);
  chmodSync(path, owner.mode);
  chownSync(path, owner.uid, owner.gid);
}

/**
 * unlink /dev/mapper/<name> when it is the block node of `devno`; anything else there is left and
 * named in the returned text.
 */
export function dropNode(dir: string, name: string, devno: DevNo): string | undefined {
  const path = `${dir}/${name}`;
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return undefined;
  if (st.isBlockDevice() && same(decodeRdev(st.rdev), devno)) {
    unlinkSync(path);
    return undefined;
  }
  if (st.isBlockDevice()) {
    const other = decodeRdev(st.rdev);
    return `${path} is the node of another device (${other.major}:${other.minor}); left in place`;
  }
  return `${path} is ${kindOf(st, path)}, not this map's device node; left in place`;
}

export function createDevNodes(
  options: { dir?: string; waitMs?: number; udev?: () => boolean } = {},
): DevNodes {
  const dir = options.dir ?? MAPPER_DIR;
  const waitMs = options.waitMs ?? DEFAULT_NODE_WAIT_MS;
  let udev: boolean | undefined;
  // The parent's mode and owner, looked up once for all of a run's maps.
  const owners = new Map<string | undefined, NodeOwner>();
  const ownerLike = (like: string | undefined): NodeOwner => {
    const known = owners.get(like);
    if (known) return known;
    const owner = ownerOf(like);
    owners.set(like, owner);
    return owner;
  };
  const haveUdev = (): boolean => {
    udev ??= (options.udev ?? udevRunning)();
    return udev;
  };
  const guard = (what: string, fn: () => void): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return message.startsWith(what) ? message : `${what}: ${message}`;
    }
  };
  return {
    blocker(name, devno) {
      return foreignEntry(`${dir}/${name}`, devno, haveUdev());
    },
    async created(name, devno, nodeOptions) {
      const path = `${dir}/${name}`;
      if (!haveUdev()) return guard(path, () => placeNode(dir, name, devno, ownerLike(nodeOptions.like)));
      if (!nodeOptions.sync) return undefined;
      return (await waitUntil(() => same(nodeDevNo(path), devno), waitMs))
        ? undefined
        : `${path}: udev did not create the node within ${waitMs / 1000} s`;
    },
    async removed(name, devno, nodeOptions) {
      const path = `${dir}/${name}`;
      if (!haveUdev()) {
        let left: string | undefined;
        return (
          guard(path, () => {
            left = dropNode(dir, name, devno);
          }) ?? left
        );
      }
      if (!nodeOptions.sync) return undefined;
      return (await waitUntil(() => !nodeDevNo(path), waitMs))
        ? undefined
        : `${path}: udev did not remove the node within ${waitMs / 1000} s`;
    },
    async renamed(from, to, devno, nodeOptions) {
      if (!haveUdev()) {
        let left: string | undefined;
        return (
          guard(`${dir}/${to}`, () => {
            placeNode(dir, to, devno, ownerLike(nodeOptions.like));
            left = dropNode(dir, from, devno);
          }) ?? left
        );
      }
      return this.created(to, devno, nodeOptions);
    },
  };
}
