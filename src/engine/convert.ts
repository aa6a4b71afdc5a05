/**
 * Converting a VM disk container to a raw image with `qemu-img convert` (kernels without nbd):
 * the pure parts. Where the copy goes by default, what qemu-img's `-p` progress says, and whether
 * the target's file system has room. The original is only ever read (qemu-img opens it read-only).
 */
import { basename, dirname, join } from 'node:path';

/** `<dir>/<name>.raw` beside the image (`vm.qcow2` → `vm.raw`; a `.raw` image gets `.raw.raw`). */
export function defaultRawPath(image: string): string {
  const name = basename(image);
  const stem = name.replace(/\.(qcow2?|qed|vmdk|vhdx?|vdi|img)$/iu, '');
  return join(dirname(image), `${stem === name && name.endsWith('.raw') ? name : stem}.raw`);
}

export interface SpaceCheck {
  ok: boolean;
  /** One sentence for the user: the numbers, and that the copy is sparse. */
  text: string;
}

const mib = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

/**
 * Room for a raw copy of `virtualSize` bytes in `free` bytes. qemu-img writes it sparse, so only
 * the data takes space: at least `allocated` (what the container's file holds) is needed, at most
 * the virtual size. Refused only below the allocated size; between the two it is said.
 */
export function checkSpace(free: number, virtualSize: number, allocated: number): SpaceCheck {
  if (free >= virtualSize)
    return { ok: true, text: `${mib(free)} free for a raw copy of ${mib(virtualSize)} (written sparse)` };
  if (free >= allocated)
    return {
      ok: true,
      text: `${mib(free)} free, less than the virtual size ${mib(virtualSize)}: the raw copy is sparse (unwritten parts take no space), so it fits if the guest's data fits`,
    };
  return {
    ok: false,
    text: `not enough space: ${mib(free)} free, the image holds ${mib(allocated)} of data (virtual size ${mib(virtualSize)})`,
  };
}
