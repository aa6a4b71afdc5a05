/**
 * MapEvents from a backend, printed as the C kpartx prints them: which stream, only with `-v` or
 * always, and the exact words (including the missing newline after `failed to remove <name>` in
 * `-u`). A system error behind a failure is printed first, where libdevmapper prints its own line.
 */
import type { MapEvent } from '../engine/backend.js';
import type { WorkflowEvent } from '../engine/workflow/events.js';
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
  }
}

/**
 * The workflow's events (map events and the steps around them) as the C tool prints them. The
 * loop lines are the C tool's for `-d IMAGE` (`loop deleted : /dev/loop0`), and ours where the C
 * tool has none (`loop kept : …`). After an interruption the take-back is worded as a removal.
 */
export function renderRunEvent(event: WorkflowEvent, context: EventContext, verbose: boolean): Printed[] {
  const verboseOnly = (printed: Printed): Printed[] => (verbose ? [printed] : []);
  switch (event.type) {
    case 'resolved':
    case 'loop-attached':
    case 'interrupted':
      return [];
    // qemu-nbd connections have no line in the C tool: ours say what happened under -v only.
    case 'nbd-attached':
      return verboseOnly(
        line(
          'stderr',
          `nbd connected : ${event.path} (${event.format}${event.readOnly ? ', read-only' : ''}) ${event.file}`,
        ),
      );
    case 'nbd-released':
      return event.cause === 'refusal' ? [] : verboseOnly(line('stderr', `nbd disconnected : ${event.path}`));
    case 'nbd-kept':
      return event.cause !== 'delete'
        ? []
        : verboseOnly(
            line(
              'stderr',
              `nbd kept : ${event.path} (still used by ${event.users.join(', ')}; disconnected when no longer used)`,
            ),
          );
    case 'nbd-release-failed':
      return [line('stderr', `can't disconnect nbd : ${event.path}: ${event.message}`)];
    case 'warning':
      return [line('stderr', event.text)];
    case 'plan-refused':
      return [
        ...event.problems.map((problem) => line('stderr', problem)),
        line('stderr', `${event.parent}: no maps created: ${event.summary}`),
      ];
    case 'loop-released':
      // A refused plan attached and let go of a loop without changing anything: nothing to say.
      return event.cause === 'refusal' ? [] : verboseOnly(line('stderr', `loop deleted : ${event.path}`));
    case 'loop-kept': {
      if (event.cause !== 'delete') return [];
      const { path } = event;
      if (event.why === 'foreign')
        return verboseOnly(
          line('stderr', `loop kept : ${path} (not attached by kpartx; losetup -d ${path} releases it)`),
        );
      const users = event.users.length > 0 ? `used by ${event.users.join(', ')}` : 'in use';
      return verboseOnly(
        line('stderr', `loop kept : ${path} (still ${users}; it is released when no longer used)`),
      );
    }
    case 'loop-release-failed':
      if (event.cause === 'delete') return verboseOnly(line('stderr', `can't del loop : ${event.path}`));
      if (event.cause === 'refusal')
        return [line('stderr', `can't del loop : ${event.path}: ${event.message}`)];
      return renderEvent(
        { type: 'failed', name: event.path, op: 'remove', message: event.message },
        context,
        verbose,
      );
    default:
      return renderEvent(event, context, verbose);
  }
}
