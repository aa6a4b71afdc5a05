/**
 * What an add changed, newest last, so a failure or an interruption can put the previous state
 * back. Both backends record into this one journal: device-mapper creates, renames and reloads;
 * the loop backend attaches, detaches and links.
 */
import type { EmitEvent } from '../backend.js';
import { errorText } from '../errors.js';

export interface UndoStep {
  /** The map the step concerns, as events name it. */
  name: string;
  /** Say `rolled-back` for it once taken back (a map this run made or changed); not for bookkeeping. */
  announce: boolean;
  takeBack(): unknown | Promise<unknown>;
}

export class UndoJournal {
  private readonly steps: UndoStep[] = [];

  record(step: UndoStep): void {
    this.steps.push(step);
  }

  /** Take every step back, newest first. A step that fails is reported and counted; the rest still run. */
  async rollBack(emit: EmitEvent): Promise<number> {
    let failures = 0;
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.takeBack();
        if (step.announce) emit({ type: 'rolled-back', name: step.name });
      } catch (error) {
        failures++;
        emit({ type: 'failed', name: step.name, op: 'remove', message: errorText(error) });
      }
    }
    return failures;
  }
}
