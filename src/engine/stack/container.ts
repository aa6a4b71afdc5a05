/**
 * The container layer: a VM disk image (qcow2, VMDK, VHD, VHDX, VDI) found where a raw disk was
 * expected, opened through the probe's readers so the table and contents inside can be read
 * without attaching anything. Bounded like the readers: a hostile header gives a problem, fast.
 */
import type { Disk } from '../../io/disk.js';
import { type OpenedContainer, openContainer } from '../../probe/containers.js';
import { errorText } from '../errors.js';
import { containerAttach } from './attach.js';
import type { ContainerLayer } from './types.js';

export interface OpenedLayer {
  layer: ContainerLayer;
  /** The guest's disk, when it can be read; else the problem says why. */
  guest: Disk | null;
  close(): void;
}

function layerOf(opened: OpenedContainer): ContainerLayer {
  return {
    format: opened.format,
    description: opened.description,
    virtualSize: opened.virtualSize ?? null,
    features: opened.features,
    readable: opened.disk !== undefined,
    problem: opened.problem?.message ?? null,
    advice: opened.advice,
    files: opened.files,
    attach: containerAttach(opened),
  };
}

/**
 * Null when `disk` is no container (a raw disk). `name` is how messages name the image; `path` is
 * its file, where relative backing files and extents are looked up.
 */
export function openContainerLayer(disk: Disk, name: string, path?: string): OpenedLayer | null {
  // The first sector read here, so an I/O error reaches the caller as the disk's own error.
  disk.readAt(0, 512);
  let opened: OpenedContainer | null;
  try {
    opened = openContainer(disk, { name, ...(path ? { path } : {}) });
  } catch (error) {
    // openContainer only throws for an unreadable file: say so as a container problem of its own.
    return {
      layer: {
        format: 'unknown',
        description: 'unreadable image',
        virtualSize: null,
        features: [],
        readable: false,
        problem: errorText(error),
        advice: [],
        files: [],
        attach: { method: 'none', text: 'not mappable: the image cannot be read' },
      },
      guest: null,
      close: () => {},
    };
  }
  if (!opened) return null;
  const close = opened.close;
  return { layer: layerOf(opened), guest: opened.disk ?? null, close };
}

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/** `20 GiB`, `512 MiB`, `1536 bytes`: exact when it divides, one decimal otherwise. */
export function sizeText(bytes: number): string {
  const unit = bytes >= GIB ? ['GiB', GIB] : bytes >= MIB ? ['MiB', MIB] : null;
  if (!unit) return `${bytes} bytes`;
  const value = bytes / (unit[1] as number);
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit[0]}`;
}

/** `qcow2 image (virtual size 20 GiB)`, `VMware VMDK sparse image`… for one-line notes. */
export function containerTitle(layer: ContainerLayer): string {
  const what = layer.attach.method === 'none' ? layer.description : `${layer.format} image`;
  return layer.virtualSize === null ? what : `${what} (virtual size ${sizeText(layer.virtualSize)})`;
}

/**
 * The one stderr line `kpartx -l` adds for a container (stdout stays the C tool's listing of the
 * file's raw bytes): what it is and what to do. Null for a fixed VHD, whose bytes map as they are.
 */
export function containerListNote(operand: string, layer: ContainerLayer): string | null {
  if (layer.attach.method === 'partition-map') return null;
  const title = containerTitle(layer);
  if (layer.attach.method === 'none')
    return `${operand}: ${title}: ${layer.advice[0] ?? layer.problem ?? 'not a disk image'}`;
  if (layer.problem) {
    // The problem names the file it is in; the operand is already in front.
    const problem = layer.problem.startsWith(`${operand}: `)
      ? layer.problem.slice(operand.length + 2)
      : layer.problem;
    const next = layer.advice[0] ? `; ${layer.advice[0]}` : '';
    return `${operand}: ${title}: its disk cannot be read here (${problem})${next}`;
  }
  return `${operand}: ${title}: the partitions inside are listed by kpartx-tui --json ${operand}; attach it with qemu-nbd to map them`;
}

/** Why an add of a container's file is refused: its bytes are not the guest's disk. */
export interface AddRefusal {
  /** One line for a status bar. */
  message: string;
  /** The same in full, one line each (what it needs, what to do on this kernel). */
  lines: string[];
}

export function containerAddRefusal(operand: string, layer: ContainerLayer, nbdPresent: boolean): AddRefusal {
  if (layer.attach.method === 'none') {
    const what = layer.problem ?? layer.attach.text.replace(/^not mappable: /u, '');
    return {
      message: `Not mapped: ${operand} is a ${layer.description}`,
      lines: [what, ...layer.advice.slice(0, 1)],
    };
  }
  const needs = `a ${layer.format} image is mapped through nbd (qemu-nbd), not from its file's bytes`;
  const next = nbdPresent
    ? `attach it: qemu-nbd --read-only --connect=/dev/nbd0 ${operand}, then map /dev/nbd0`
    : `this kernel has no nbd (no /sys/module/nbd, no /dev/nbd0): modprobe nbd, or convert it: qemu-img convert -O raw ${operand} disk.raw`;
  const message = nbdPresent
    ? `Not mapped: a ${layer.format} image needs nbd: attach it with qemu-nbd, then map /dev/nbdN`
    : `Not mapped: a ${layer.format} image needs nbd (qemu-nbd), and this kernel has no nbd`;
  return { message, lines: [needs, next] };
}
