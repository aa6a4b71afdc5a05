/**
 * `kpartx-tui umount SOURCE` when no record of a mount of SOURCE is left: a mount killed (kill -9)
 * after it made its maps but before it wrote its record leaves maps that no record names. They go
 * as `kpartx -d SOURCE` removes them, through the same run: the LV maps and LUKS mappings of ours
 * on the partition maps, the partition maps, the image's loop if kpartx-tui attached it. Nothing is
 * unmounted (without a record no mount is known to be ours): a mounted map is kept and named with
 * its mountpoint. Where nothing of the sort is set up, there is nothing to do and the caller says
 * there is no record.
 */
import type { BackendKind } from '../engine/backend.js';
import { attachedByUs } from '../engine/image-loop.js';
import { deferSignals } from '../engine/signals.js';
import { MapRun, type MapRunDeps } from '../engine/workflow/map-run.js';
import { stackedOver } from '../engine/workflow/stack-remove.js';

export interface UnrecordedRemoval {
  /** Every map removed, in order: LV maps, LUKS mappings, partition maps. */
  removed: string[];
  /** The LUKS mappings closed (also in `removed`). */
  luks: string[];
  /** The image's loop, when it was released. */
  loop: string | null;
  /** What stays, each with why (its holders, or what failed). */
  kept: { name: string; why: string }[];
}

/** Remove what kpartx-tui set up on `source`; undefined when nothing of ours is there. */
export async function removeUnrecorded(
  source: string,
  backend: BackendKind,
  deps: MapRunDeps,
): Promise<UnrecordedRemoval | undefined> {
  const kept: UnrecordedRemoval['kept'] = [];
  const run = new MapRun(
    { operand: source, action: 'delete', readOnly: false, sync: true, backend },
    deps,
    (event) => {
      if (event.type === 'busy')
        kept.push({
          name: event.name,
          why: event.holders.length > 0 ? `in use by ${event.holders.join(', ')}` : 'in use',
        });
      else if (event.type === 'refused' || event.type === 'failed')
        kept.push({ name: event.name, why: event.message });
      else if (event.type === 'not-removed')
        kept.push({ name: event.name, why: `not ours (${event.reason})` });
      else if (event.type === 'loop-release-failed') kept.push({ name: event.path, why: event.message });
    },
  );
  return deferSignals(
    async () => {
      const resolved = await run.resolve();
      if (!resolved) return undefined;
      const { machine } = deps;
      const maps = (await run.makeBackend()).existing(resolved.parent);
      const stacked = stackedOver(machine, resolved.parent.devno, maps);
      const loop =
        resolved.loop?.state === 'found'
          ? machine.loop.list().find((l) => l.path === resolved.loop!.path)
          : undefined;
      const ourLoop = loop !== undefined && attachedByUs(loop);
      if (maps.length + stacked.lvs.length + stacked.luks.length === 0 && !ourLoop) return undefined;
      await run.remove();
      return {
        removed: [...run.removed],
        luks: [...run.luksClosed],
        loop: run.loopFate === 'released' && loop ? loop.path : null,
        kept,
      };
    },
    () => `the removal of what is set up on ${source} ran to its end first`,
  );
}
