/**
 * Converting a VM disk container to a raw image with `qemu-img convert` (kernels without nbd):
 * the pure parts. Where the copy goes by default, what qemu-img's `-p` progress says, and whether
 * the target's file system has room. The original is only ever read (qemu-img opens it read-only).
 */
import { basename, dirname, join, resolve } from 'node:path';
import type { Machine } from './machine.js';
import { type NbdContainer, nbdContainerOf } from './workflow/container-attach.js';

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

/** The file system questions a conversion asks before it starts (the kernel layer answers them). */
export interface ConvertFs {
  exists(path: string): boolean;
  /** Bytes the file's data takes on disk. */
  allocatedBytes(file: string): number;
  freeBytes(dir: string): number;
}

export interface PreparedConvert {
  container: NbdContainer;
  target: string;
  space: SpaceCheck;
}

/**
 * What a conversion would do, or why it cannot: checked before qemu-img runs. The target must
 * not exist and must not be the image (the original is never written).
 */
export function prepareConvert(
  machine: Machine,
  fs: ConvertFs,
  image: string,
  out: string | undefined,
): PreparedConvert {
  const container = nbdContainerOf(machine, image);
  if (!container)
    throw new Error(`${image}: not a VM disk image qemu-img would convert (qcow2, VMDK, VHD, VHDX, VDI)`);
  const target = resolve(out ?? defaultRawPath(container.file));
  if (target === container.file) throw new Error(`${target}: the copy cannot replace the image`);
  if (fs.exists(target)) throw new Error(`${target} exists; not overwriting it (name another path)`);
  const allocated = fs.allocatedBytes(container.file);
  const space = checkSpace(fs.freeBytes(dirname(target)), container.virtualSize ?? allocated, allocated);
  return { container, target, space };
}
