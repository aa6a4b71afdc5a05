/**
 * MapEvents from a backend, printed as the C kpartx prints them: which stream, only with `-v` or
 * always, and the exact words (including the missing newline after `failed to remove <name>` in
 * `-u`). A system error behind a failure is printed first, where libdevmapper prints its own line.
 */
import type { MapEvent } from '../engine/backend.js';
import { formatDevNo } from '../io/devno.js';

export type Stream = 'stdout' | 'stderr';

export interface Printed {
  stream: Stream;
  /** Exact text, newline included when the C tool prints one. */
  text: string;
}

/** The operation the events come from: wording differs between -d and the stale removal of -u. */
export type EventContext = 'add' | 'update' | 'delete';

const line = (stream: Stream, text: string): Printed => ({ stream, text: `${text}\n` });

export function renderEvent(event: MapEvent, context: EventContext, verbose: boolean): Printed[] {
  const verboseOnly = (printed: Printed): Printed[] => (verbose ? [printed] : []);
  switch (event.type) {
    case 'created':
    case 'reloaded': {
      const { map } = event;
      return verboseOnly(
        line(
          'stdout',
          `add map ${map.dmName} (${formatDevNo(event.devno)}): 0 ${map.size} linear ` +
            `${formatDevNo(event.parentDevno)} ${map.start}`,
        ),
      );
    }
    case 'renamed':
      return verboseOnly(
        line('stderr', `found map ${event.from} for uuid ${event.uuid}, renaming to ${event.to}`),
      );
    case 'removed':
      return verboseOnly(line('stdout', `del devmap : ${event.name}`));
    case 'conflict':
      return [
        line(
          'stderr',
          event.reason === 'not-kpartx'
            ? `${event.name} is already in use, and not a kpartx partition`
            : `${event.name} is already in use, and a partition of a different device`,
        ),
      ];
    case 'not-removed':
      if (context === 'delete') {
        const why = event.reason === 'not-linear' ? 'is not a linear target' : 'is not a kpartx partition';
        return verboseOnly(line('stdout', `${event.name}: ${why}. Not removing`));
      }
      return [
        line(
          'stderr',
          event.reason === 'other-device'
            ? `${event.name} is a partition of a different device. Not removing`
            : `${event.name} is not a kpartx partition. Not removing`,
        ),
      ];
    case 'busy': {
      const holders =
        event.holders.length > 0
          ? [line('stderr', `${event.name} is held by ${event.holders.join(', ')}`)]
          : [];
      if (context === 'delete')
        return [...holders, ...verboseOnly(line('stdout', `${event.name} is in use. Not removing`))];
      return [...holders, { stream: 'stderr', text: `failed to remove ${event.name}` }];
    }
    case 'failed': {
      const cause = event.message ? [line('stderr', event.message)] : [];
      switch (event.op) {
        case 'create':
        case 'reload':
          return [...cause, line('stderr', `create/reload failed on ${event.name}`)];
        case 'resume':
          return [...cause, line('stderr', `resume failed on ${event.name}`)];
        case 'rename':
          return [...cause, ...verboseOnly(line('stderr', `renaming ${event.name} failed`))];
        case 'remove':
          if (context === 'delete')
            return [...cause, ...verboseOnly(line('stdout', `${event.name}: failed to remove`))];
          return [...cause, { stream: 'stderr', text: `failed to remove ${event.name}` }];
      }
      return cause;
    }
    case 'refused':
      return [line('stderr', event.message)];
    case 'rolled-back':
      return [line('stderr', `${event.name}: removed again (rolled back)`)];
    case 'loop-detached':
      return verboseOnly(line('stderr', `loop deleted : ${event.path}`));
  }
}
