/**
 * The three write modes for an image (a VM disk container or a raw file): read-only (the default),
 * direct (writes go to the image), and overlay: writes go to a qcow2 file whose backing file is the
 * image, made with `qemu-img create` and attached read-write through qemu-nbd, so the original is
 * only ever opened read-only. At the end the overlay is committed into the image (`qemu-img
 * commit`, after the nbd connection is gone), discarded (the file deleted), or kept for later.
 *
 * Here: where the overlay goes by default, whether overlay mode can be used for a source on this
 * machine (it needs nbd and qemu-utils) and why not, making it, and ending it. Everything is
 * checked before the overlay file is made, so a refusal leaves nothing.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { readQcow2Header } from '../../probe/qcow2.js';
import { errorText } from '../errors.js';
import type { Machine } from '../machine.js';
import { openContainerLayer } from '../stack/container.js';
import { QEMU_FORMAT } from './container-attach.js';

export type WriteMode = 'read-only' | 'overlay' | 'direct';

/** `<dir>/<name>.overlay.qcow2` beside the image, so it is found where the image is. */
export const defaultOverlayPath = (image: string): string =>
  join(dirname(image), `${basename(image)}.overlay.qcow2`);

/** Overlay mode refused, or an overlay that cannot be made or ended: one line saying why. */
export class OverlayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OverlayError';
  }
}

/** An overlay over an image: what a mount record keeps. */
export interface Overlay {
  /** The overlay file (absolute). */
  path: string;
  /** The image it is over (resolved), and that image's format as qemu names it. */
  image: string;
  format: string;
}

/**
 * The image file behind `operand` and its format as qemu names it (`raw` for a raw disk or a fixed
 * VHD, whose bytes are the disk); a problem when it cannot be the backing file of an overlay.
 */
function backingOf(
  machine: Machine,
  operand: string,
): { image: string; format: string } | { problem: string } {
  let image: string;
  try {
    if (machine.stat(operand) !== 'file')
      return { problem: 'overlay mode is for image files; this is a block device (use read-only or --rw)' };
    image = machine.realpath(operand);
  } catch (error) {
    return { problem: errorText(error) };
  }
  let disk: ReturnType<Machine['openDisk']>;
  try {
    disk = machine.openDisk(image, machine.fileSize(image), 512);
  } catch (error) {
    return { problem: errorText(error) };
  }
  try {
    const opened = openContainerLayer(disk, operand, image);
    opened?.close();
    if (!opened || opened.layer.attach.method === 'partition-map') return { image, format: 'raw' };
    const format = QEMU_FORMAT[opened.layer.format];
    if (opened.layer.attach.method !== 'nbd' || !format)
      return {
        problem: `a ${opened.layer.description} cannot be opened for an overlay: ${opened.layer.attach.text}`,
      };
    return { image, format };
  } catch (error) {
    return { problem: errorText(error) };
  } finally {
    disk.close();
  }
}

/** What overlay mode needs of the machine, whatever the image: nbd and qemu-utils. */
function machineProblem(machine: Machine): string | undefined {
  if (!machine.nbd.available())
    return 'overlay mode attaches the overlay through nbd, and this kernel has no nbd (modprobe nbd failed)';
  return machine.overlays.missingTool();
}

/** Why overlay mode cannot be used for `operand` here (no nbd, no qemu-utils, not an image); undefined when it can. */
export function overlayProblem(machine: Machine, operand: string): string | undefined {
  const backing = backingOf(machine, operand);
  return 'problem' in backing ? backing.problem : machineProblem(machine);
}

/**
 * The overlay a mount of `operand` would write to: at `requested` (relative to the working
 * directory), else beside the image. Throws an OverlayError, before anything is made, when overlay
 * mode cannot be used or the path is taken.
 */
export function planOverlay(machine: Machine, operand: string, requested?: string): Overlay {
  const backing = backingOf(machine, operand);
  const problem = 'problem' in backing ? backing.problem : machineProblem(machine);
  if (problem || 'problem' in backing) throw new OverlayError(`${operand}: ${problem}`);
  const path = resolve(requested || defaultOverlayPath(backing.image));
  if (path === backing.image) throw new OverlayError(`${path}: the overlay cannot be the image itself`);
  if (machine.overlays.exists(path))
    throw new OverlayError(
      `${path} exists: commit or discard it first (kpartx-tui overlay commit|discard ${path}), or name another path with --overlay=PATH`,
    );
  return { path, ...backing };
}

/** `qemu-img create` of the planned overlay; an OverlayError naming it when that fails (nothing is left). */
export async function createOverlay(machine: Machine, overlay: Overlay): Promise<void> {
  try {
    await machine.overlays.create(overlay.path, overlay.image, overlay.format);
  } catch (error) {
    throw new OverlayError(
      `${overlay.path}: cannot create the overlay: ${errorText(error)} (name another path with --overlay=PATH)`,
    );
  }
}

export type OverlayEnd = 'commit' | 'discard' | 'keep';

/** The nbd device the overlay is still connected on, if any (kpartx-tui's connection). */
export const overlayConnection = (machine: Machine, overlay: Pick<Overlay, 'path'>): string | undefined =>
  machine.nbd.list().find((c) => c.ours && c.file === overlay.path)?.path;

/** What a user is told about an overlay that stays: where it is and how to end it later. */
export function keptOverlayText(overlay: Overlay): string {
  return `the overlay ${overlay.path} is kept: the writes are in it and ${overlay.image} is unchanged; commit them into the image with \`kpartx-tui overlay commit ${overlay.path}\` (or \`qemu-img commit ${overlay.path}\`), or drop them with \`kpartx-tui overlay discard ${overlay.path}\``;
}

/**
 * Commit, discard or keep an overlay, once nothing is connected to it any more (a commit needs
 * the image free of qemu-nbd). Returns the sentence saying what was done; throws an OverlayError
 * (the overlay kept) when it could not be.
 */
export async function endOverlay(machine: Machine, overlay: Overlay, end: OverlayEnd): Promise<string> {
  if (end === 'keep') return keptOverlayText(overlay);
  const connected = overlayConnection(machine, overlay);
  if (connected)
    throw new OverlayError(
      `${overlay.path} is still connected on ${connected}; not ending it (${keptOverlayText(overlay)})`,
    );
  if (!machine.overlays.exists(overlay.path)) throw new OverlayError(`${overlay.path}: the overlay is gone`);
  if (end === 'commit') {
    try {
      await machine.overlays.commit(overlay.path);
    } catch (error) {
      throw new OverlayError(`${overlay.path}: ${errorText(error)}; ${keptOverlayText(overlay)}`);
    }
  }
  try {
    machine.overlays.remove(overlay.path);
  } catch (error) {
    throw new OverlayError(
      `${overlay.path}: ${end === 'commit' ? 'committed, but ' : ''}${errorText(error)}`,
    );
  }
  return end === 'commit'
    ? `committed the overlay ${overlay.path} into ${overlay.image} and removed it`
    : `discarded the overlay ${overlay.path}: ${overlay.image} is as it was`;
}

/**
 * An overlay file found by its path (for `kpartx-tui overlay commit|discard`): a qcow2 with a
 * backing file. Anything else is refused, so a mistyped path never deletes or commits another file.
 */
export function readOverlay(machine: Machine, path: string): Overlay {
  const absolute = resolve(path);
  let disk: ReturnType<Machine['openDisk']>;
  try {
    if (machine.stat(absolute) !== 'file') throw new OverlayError(`${path}: not a file`);
    disk = machine.openDisk(absolute, machine.fileSize(absolute), 512);
  } catch (error) {
    throw error instanceof OverlayError ? error : new OverlayError(`${path}: ${errorText(error)}`);
  }
  try {
    const header = readQcow2Header(disk, path);
    if (!header.backingFile)
      throw new OverlayError(`${path}: a qcow2 image without a backing file, not an overlay`);
    return {
      path: absolute,
      image: resolve(dirname(absolute), header.backingFile),
      format: header.backingFormat ?? 'raw',
    };
  } catch (error) {
    throw error instanceof OverlayError
      ? error
      : new OverlayError(`${path}: not a qcow2 overlay: ${errorText(error)}`);
  } finally {
    disk.close();
  }
}
