/**
 * `kpartx-tui mount SOURCE[:N|:VG/LV] --overlay[=PATH]`: the mount goes on a qcow2 overlay over
 * the image instead of the image. The overlay is planned (nbd, qemu-utils, a free path: refused
 * before anything is made), created with qemu-img, and then mounted read-write exactly as an image
 * would be, with the overlay as the source: the map-run workflow attaches it through qemu-nbd and
 * maps /dev/nbdN, LUKS and LVs included. The record remembers the overlay; umount commits it,
 * discards it or keeps it. A failure or a signal takes the mount back and deletes the overlay
 * this run made. And `kpartx-tui overlay commit|discard OVERLAY` ends a kept one later.
 */
import { existsSync } from 'node:fs';
import { errorText } from '../engine/errors.js';
import { deferSignals, InterruptedError } from '../engine/signals.js';
import { splitLvOperand } from '../engine/workflow/lv-run.js';
import {
  createOverlay,
  endOverlay,
  type Overlay,
  type OverlayEnd,
  overlayConnection,
  planOverlay,
  readOverlay,
} from '../engine/workflow/overlay.js';
import { createMachine } from '../kernel/machine.js';
import type { MountRecord } from './record.js';
import { writeRecord } from './record.js';

/** `vm.qcow2:2` → `vm.qcow2` and `:2`; `vm.qcow2:rhel/root` → `vm.qcow2` and `:rhel/root`. */
export function splitOperandSource(
  operand: string,
  splitSource: (operand: string) => { source: string },
): { source: string; rest: string } {
  const source = splitLvOperand(operand, existsSync)?.source ?? splitSource(operand).source;
  return { source, rest: operand.slice(source.length) };
}

/**
 * Plan and make the overlay, then run `mount` on `<overlay><rest>` read-write; the record it wrote
 * is given the overlay and the operand as the user typed it. A failure or a signal deletes the
 * overlay again (after `mount` has taken back its own steps, the nbd connection among them).
 */
export async function mountOnOverlay(
  operand: string,
  requestedPath: string | undefined,
  split: { source: string; rest: string },
  machine: Parameters<typeof planOverlay>[0],
  mount: (operand: string) => Promise<MountRecord>,
  /** Take a recorded mount back, the overlay discarded (a signal that came just after it). */
  unmount: (record: MountRecord) => Promise<unknown>,
): Promise<MountRecord> {
  const overlay = planOverlay(machine, split.source, requestedPath);
  let made = false;
  const drop = (): string => {
    if (!made) return '';
    // qemu-nbd still holding it (a disconnect that failed) keeps it: the message names the device.
    const connected = overlayConnection(machine, overlay);
    if (connected) return `; the overlay ${overlay.path} is left: still connected on ${connected}`;
    try {
      machine.overlays.remove(overlay.path);
      return `; the overlay ${overlay.path} removed`;
    } catch (error) {
      return `; the overlay ${overlay.path} is left: ${errorText(error)}`;
    }
  };
  return deferSignals(
    async (interrupted) => {
      try {
        await createOverlay(machine, overlay);
        made = true;
        interrupted.throwIfAborted();
        const record = await mount(`${overlay.path}${split.rest}`);
        const full: MountRecord = { ...record, source: operand, overlay };
        writeRecord(full);
        return full;
      } catch (error) {
        const dropped = drop();
        if (error instanceof InterruptedError)
          throw new InterruptedError(error.signal, `${error.outcome}${dropped}`);
        if (error instanceof Error && dropped) error.message += dropped;
        throw error;
      }
    },
    // A signal that came once the mount was recorded: all of it goes again, the overlay with it.
    async (record) => {
      try {
        await unmount(record);
        return `${record.mountpoint} was mounted and taken back; the overlay ${overlay.path} removed`;
      } catch (error) {
        return `${record.mountpoint} stays mounted: ${errorText(error)}`;
      }
    },
  );
}

export type { Overlay, OverlayEnd };

export const OVERLAY_USAGE = 'usage: kpartx-tui overlay commit|discard OVERLAY';

/** `kpartx-tui overlay commit|discard OVERLAY`: end an overlay a mount kept. */
export async function overlayMain(
  args: string[],
  io: { stdout(text: string): void; stderr(text: string): void } = {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
  },
  machine: Parameters<typeof planOverlay>[0] = createMachine(),
): Promise<number> {
  const [action, path, ...extra] = args.filter((a) => a !== '--');
  if ((action !== 'commit' && action !== 'discard') || !path || extra.length > 0) {
    io.stderr(`${OVERLAY_USAGE}\n`);
    return 2;
  }
  try {
    const overlay = readOverlay(machine, path);
    io.stdout(`${await endOverlay(machine, overlay, action)}\n`);
    return 0;
  } catch (error) {
    io.stderr(`kpartx-tui overlay: ${errorText(error)}\n`);
    return 1;
  }
}
