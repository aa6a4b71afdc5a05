/**
 * A terminal that hangs up (its window closed, the SSH session dropped, the tmux server gone)
 * while a run still has work to finish: the run takes back what it made and exits with its own
 * status. But Node puts a terminal's mode back as it exits and aborts (SIGABRT) when it cannot,
 * and a hung-up terminal refuses with EIO. So before exiting, the standard descriptors that are
 * such a terminal are pointed at /dev/null: Node leaves alone a descriptor that no longer refers to
 * the file it started with.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { lazyBuiltin } from '../io/builtin.js';

// Asked only of a character device that may be a terminal: tty pulls in Node's sockets, which
// `kpartx -l` writing to a pipe or file otherwise never loads.
const tty = lazyBuiltin<typeof import('node:tty')>('node:tty');

/** Major number of /dev/null, /dev/zero and friends: character devices that are no terminal. */
const MEMORY_DEVICES = 1;

/** A character device that is not a memory device and no longer answers as a terminal. */
function hungUp(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return (
      stat.isCharacterDevice() && Math.floor(stat.rdev / 256) % 4096 !== MEMORY_DEVICES && !tty().isatty(fd)
    );
  } catch {
    return false;
  }
}

/**
 * Point the standard descriptors that are a hung-up terminal at /dev/null. Streams reading or
 * writing them (`streams[fd]`) are closed first, so nothing watches a descriptor while it changes.
 * Does nothing while the terminal is there.
 */
export function releaseHungUpTerminal(streams: Partial<Record<0 | 1 | 2, { destroy(): void }>> = {}): void {
  for (const fd of [0, 1, 2] as const) {
    if (!hungUp(fd)) continue;
    streams[fd]?.destroy();
    try {
      closeSync(fd);
      // The lowest free descriptor: the one just closed.
      const reopened = openSync('/dev/null', 'r+');
      if (reopened !== fd) closeSync(reopened);
    } catch {
      // closed meanwhile: nothing for Node to put back there
    }
  }
}
