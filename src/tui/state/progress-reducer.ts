/** Live progress of an add or delete: engine events folded into one line per map. */
import { openByProcess } from '../../engine/holders.js';
import type { ProgressEvent, ProgressStep } from '../model.js';

function upsert(steps: ProgressStep[], name: string, change: Partial<ProgressStep>): ProgressStep[] {
  const index = steps.findIndex((s) => s.name === name);
  if (index < 0) return [...steps, { name, state: 'running', ...change }];
  return steps.map((s, i) => (i === index ? { ...s, ...change } : s));
}

export function progressReducer(steps: ProgressStep[], event: ProgressEvent): ProgressStep[] {
  switch (event.type) {
    case 'created':
      return upsert(steps, event.name, { state: 'running', path: event.path, devno: event.devno });
    case 'confirmed':
      return upsert(steps, event.name, { state: 'done', confirmation: event.detail });
    case 'unconfirmed':
      return upsert(steps, event.name, { state: 'failed', detail: event.detail });
    case 'failed':
      return upsert(steps, event.name, { state: 'failed', detail: event.message });
    case 'rolled-back': {
      const step = steps.find((s) => s.name === event.name);
      const detail = step?.state === 'failed' && step.detail ? `${step.detail}; rolled back` : 'rolled back';
      return upsert(steps, event.name, { state: 'rolled-back', detail });
    }
    case 'removed':
      return upsert(steps, event.name, { state: 'done', path: event.path, confirmation: 'removed' });
    case 'busy':
      return upsert(steps, event.name, {
        state: 'busy',
        // Open and neither mounted nor under another device: a process holds it.
        detail:
          event.holders.length > 0
            ? `busy: ${event.holders.join(', ')}`
            : `busy: ${openByProcess(`/dev/mapper/${event.name}`)}`,
      });
    case 'note':
      return upsert(steps, event.name, { state: 'done', confirmation: event.detail });
    case 'kept':
      return upsert(steps, event.name, { state: 'busy', detail: `kept: ${event.why}` });
  }
}
