/**
 * `kpartx -d`'s first step: what kpartx-tui stacked on a parent's partition maps goes before those
 * maps, top down: its LV maps (on the partition maps, on the parent itself, or on a LUKS mapping of
 * ours), then its LUKS mappings (`<map>-luks`, closed as a mount closes them). A mount killed
 * before it wrote its record leaves exactly such a stack. Each is reported like a partition map
 * (`del devmap : loop0p3-luks`); a busy one is kept and named with what holds it, and so is the
 * partition map under it. What is not ours (the host's lvm2 maps, a LUKS mapping opened under
 * another name) is never touched: it keeps the map under it busy, as with the C tool.
 */
import type { DevNo } from '../../io/devno.js';
import type { EmitEvent } from '../backend.js';
import { errorText } from '../errors.js';
import { holdersOf } from '../holders.js';
import type { Machine } from '../machine.js';
import { unmangleDmName } from '../names.js';
import { closeLeftLuks, type LuksOpened, ourLuksOver } from './luks.js';
import { detachLv, type LvDevice, LvRunError, lvDevicesOver } from './lv-run.js';

/** What of ours sits on a parent and its partition maps, in removal order within each list. */
export interface Stacked {
  lvs: LvDevice[];
  luks: LuksOpened[];
}

/** Our LUKS mappings on `maps`, and our LV maps on the parent, on `maps` or on those mappings. */
export function stackedOver(
  machine: Machine,
  parent: DevNo,
  maps: readonly { name: string; devno: DevNo }[],
): Stacked {
  const luks = ourLuksOver(machine, maps);
  const lvs = lvDevicesOver(machine, [parent, ...maps.map((m) => m.devno), ...luks.map((l) => l.devno)]);
  return { lvs, luks };
}

/**
 * Remove the LV maps, then close the LUKS mappings (one still held is kept, named with its
 * holders). Returns the counted failures and the LUKS mappings closed.
 */
export async function removeStacked(
  machine: Machine,
  stacked: Stacked,
  sync: boolean,
  emit: EmitEvent,
): Promise<{ failures: number; closed: string[] }> {
  let failures = 0;
  for (const device of stacked.lvs) {
    const name = unmangleDmName(device.name);
    try {
      await detachLv(machine, device, sync);
      emit({ type: 'removed', name, path: device.path });
    } catch (error) {
      failures++;
      if (error instanceof LvRunError) emit({ type: 'refused', name, message: error.message });
      else emit({ type: 'failed', name, op: 'remove', message: errorText(error) });
    }
  }
  const closed: string[] = [];
  for (const luks of stacked.luks) {
    const holders = holdersOf(machine, luks.devno);
    if (holders.length > 0) {
      failures++;
      emit({ type: 'busy', name: luks.name, holders });
      continue;
    }
    try {
      await closeLeftLuks(machine, luks, sync);
      closed.push(luks.name);
      emit({ type: 'removed', name: luks.name, path: luks.path });
    } catch (error) {
      failures++;
      emit({ type: 'failed', name: luks.name, op: 'remove', message: errorText(error) });
    }
  }
  return { failures, closed };
}
