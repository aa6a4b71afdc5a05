/**
 * How a mount that failed or was interrupted is taken back: each step in the order given (newest
 * first), every failure said in its words and the steps after it still run. Returns what was said.
 */
import { errorText } from '../engine/errors.js';

export type TakeBackStep = () => Promise<string | undefined> | string | undefined;

export async function takeBackSteps(steps: TakeBackStep[]): Promise<string[]> {
  const said: string[] = [];
  for (const step of steps) {
    try {
      const text = await step();
      if (text) said.push(text);
    } catch (error) {
      said.push(errorText(error));
    }
  }
  return said;
}
