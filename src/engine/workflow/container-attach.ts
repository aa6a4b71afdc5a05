/**
 * A VM disk container (qcow2, VMDK, VHD, VHDX, VDI) in the map-run workflow: its file's bytes are
 * not its disk, so `-a` connects it through qemu-nbd on a free /dev/nbdN (read-only unless asked
 * otherwise, the format given from the probe) and maps that device like any other; `-d` finds the
 * connection kpartx-tui made for the image and disconnects it once no map uses it. A connection
 * someone else made is used by nobody here and never disconnected (the Machine's record says whose
 * it is). One place lets go of a connection, for every cause, like release-loop.ts for loops.
 */

import { errorText } from '../errors.js';
import type { Machine, NbdConnection } from '../machine.js';
import { SourceError } from '../source.js';
import { openContainerLayer } from '../stack/container.js';
import type { EmitWorkflowEvent, LoopReleaseCause } from './events.js';

/** qemu's format names, from the probe's; never left to qemu to guess (a raw guess could write a header). */
export const QEMU_FORMAT: Record<string, string> = {
  qcow2: 'qcow2',
  qcow: 'qcow',
  qed: 'qed',
  vmdk: 'vmdk',
  vhd: 'vpc',
  vhdx: 'vhdx',
  vdi: 'vdi',
};

export interface NbdContainer {
  /** The image, resolved (what the record keeps). */
  file: string;
  /** The probe's format name (`qcow2`, `vhd`…) and qemu's (`qcow2`, `vpc`…). */
  format: string;
  qemuFormat: string;
  /** The guest disk's size in bytes, when the header gives it. */
  virtualSize: number | null;
}

/** The container behind `operand` when it is one only qemu-nbd can present; null for anything else. */
export function nbdContainerOf(machine: Machine, operand: string): NbdContainer | null {
  let file: string;
  let size: number;
  try {
    if (machine.stat(operand) !== 'file') return null;
    file = machine.realpath(operand);
    size = machine.fileSize(file);
  } catch {
    return null; // resolving the source says why
  }
  let disk: ReturnType<Machine['openDisk']>;
  try {
    disk = machine.openDisk(file, size, 512);
  } catch {
    return null;
  }
  try {
    const opened = openContainerLayer(disk, operand, file);
    opened?.close();
    if (opened?.layer.attach.method !== 'nbd') return null;
    const qemuFormat = QEMU_FORMAT[opened.layer.format];
    return qemuFormat
      ? { file, format: opened.layer.format, qemuFormat, virtualSize: opened.layer.virtualSize }
      : null;
  } catch {
    return null;
  } finally {
    disk.close();
  }
}

/** Why a container cannot be attached on a kernel without nbd, with the way out. */
export function noNbdMessage(operand: string, container: NbdContainer): string {
  const raw = `${container.file.replace(/\.[^./]+$/u, '')}.raw`;
  return `${operand}: a ${container.format} image is mapped through nbd, and this kernel has no nbd (modprobe nbd failed); convert it to raw first: kpartx-tui convert ${operand} ${raw}`;
}

/** The connection kpartx-tui made for `file`, if one is there. */
export const ourConnection = (machine: Machine, file: string): NbdConnection | undefined =>
  machine.nbd.list().find((c) => c.ours && c.file === file);

/** What the run holds: the device, and whether it connected it now or found it. */
export interface HeldConnection {
  path: string;
  file: string;
  state: 'found' | 'attached';
}

/**
 * For `-a`: the image's connection, found (ours, from an earlier run) or made now, under the
 * image's lock so two runs on one image share one device. Throws a SourceError saying why not.
 */
export async function attachContainer(
  machine: Machine,
  operand: string,
  container: NbdContainer,
  readOnly: boolean,
): Promise<HeldConnection> {
  if (!machine.nbd.available()) throw new SourceError(noNbdMessage(operand, container), 'loop');
  const lock = machine.locks.lockImage(container.file, operand);
  try {
    const found = ourConnection(machine, container.file);
    if (found) return { path: found.path, file: container.file, state: 'found' };
    const made = await machine.nbd.connect(container.file, { format: container.qemuFormat, readOnly });
    return { path: made.path, file: container.file, state: 'attached' };
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw new SourceError(`${operand}: cannot attach it with qemu-nbd: ${errorText(error)}`, 'loop');
  } finally {
    lock.release();
  }
}

export type NbdFate = 'released' | 'gone' | 'kept' | 'failed';

/**
 * Disconnect `held` once `users` (the maps still on it) are none; only ever a connection whose
 * record is ours and still names this image.
 */
export async function releaseContainer(
  machine: Machine,
  held: HeldConnection,
  users: readonly string[],
  cause: LoopReleaseCause,
  emit: EmitWorkflowEvent,
): Promise<NbdFate> {
  const current = machine.nbd.list().find((c) => c.path === held.path);
  if (!current?.ours || current.file !== held.file) return 'gone';
  if (users.length > 0) {
    emit({ type: 'nbd-kept', path: held.path, cause, users: [...users] });
    return 'kept';
  }
  try {
    await machine.nbd.disconnect(held.path);
  } catch (error) {
    emit({ type: 'nbd-release-failed', path: held.path, cause, message: errorText(error) });
    return 'failed';
  }
  emit({ type: 'nbd-released', path: held.path, cause });
  return 'released';
}

/** Whether `held` is still connected to its image (a take-back says what is left). */
export const stillConnected = (machine: Machine, held: HeldConnection): boolean =>
  machine.nbd.list().some((c) => c.path === held.path && c.ours && c.file === held.file);
