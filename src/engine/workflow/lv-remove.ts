/**
 * `kpartx -d`'s first step: the LV maps kpartx-tui stacked on a parent's partition maps (or on the
 * parent itself) are removed before those partition maps, each reported like a partition map
 * (`del devmap : loop0p2-vg-root`); a busy one is kept and named with what holds it.
 */
import type { EmitEvent, MapBackend, ParentDevice } from '../backend.js';
import type { Machine } from '../machine.js';
import { unmangleDmName } from '../names.js';
import { detachLv, LvRunError, lvDevicesOver } from './lv-run.js';

/** Counted failures (busy or failed removals). */
export async function removeLvMapsOver(
  machine: Machine,
  backend: MapBackend,
  parent: ParentDevice,
  emit: EmitEvent,
): Promise<number> {
  const devnos = [parent.devno, ...backend.existing(parent).map((m) => m.devno)];
  let failures = 0;
  for (const device of lvDevicesOver(machine, devnos)) {
    const name = unmangleDmName(device.name);
    try {
      await detachLv(machine, device);
      emit({ type: 'removed', name, path: device.path });
    } catch (error) {
      failures++;
      if (error instanceof LvRunError) emit({ type: 'refused', name, message: error.message });
      else emit({ type: 'failed', name, op: 'remove', message: (error as Error).message });
    }
  }
  return failures;
}
