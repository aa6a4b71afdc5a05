/**
 * Mounts inside mounts (a guest's /boot on its mounted root): which mount a path lies in, and the
 * order to take several down in. Pure: paths are compared as written, already resolved.
 */

/** `path` lies strictly inside the directory `outer`. */
export function isInside(path: string, outer: string): boolean {
  const base = outer.endsWith('/') ? outer : `${outer}/`;
  return path !== outer && path.startsWith(base);
}

/** The innermost of `mounts` whose mountpoint `path` lies inside; undefined when none. */
export function enclosingMount<T extends { mountpoint: string }>(
  path: string,
  mounts: readonly T[],
): T | undefined {
  let found: T | undefined;
  for (const mount of mounts) {
    if (!isInside(path, mount.mountpoint)) continue;
    if (!found || mount.mountpoint.length > found.mountpoint.length) found = mount;
  }
  return found;
}

/**
 * `mounts` (given in the order they were mounted) in the order to unmount them: newest first, and
 * never a mount before one that lies inside it, which would keep it busy.
 */
export function unmountOrder<T extends { mountpoint: string }>(mounts: readonly T[]): T[] {
  const left = [...mounts].reverse();
  const order: T[] = [];
  while (left.length > 0) {
    const free = left.findIndex((m) => !left.some((o) => isInside(o.mountpoint, m.mountpoint)));
    order.push(...left.splice(Math.max(0, free), 1));
  }
  return order;
}
