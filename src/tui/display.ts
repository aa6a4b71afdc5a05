/**
 * The one place where the app's state becomes what it draws. GPT names, labels, file names, mount
 * points, error messages quoting them: every string in the state may come from a disk or a
 * directory, so the screens are drawn from a copy in which every string is displayText'd
 * (controls, bidi controls and lone surrogates shown as escapes). The state itself keeps the raw
 * strings, so a file with an escape in its name still opens and a mount point is still the real
 * one; only what reaches the terminal is converted, and nothing drawn can miss it.
 */
import { type DisplayText, displayText } from '../io/display-text.js';

/** `T` with every free-form string made DisplayText (literal unions such as `'add' | 'remove'` stay). */
export type Displayed<T> = T extends string
  ? string extends T
    ? DisplayText
    : T
  : T extends readonly (infer U)[]
    ? Displayed<U>[]
    : T extends object
      ? { [K in keyof T]: Displayed<T[K]> }
      : T;

/**
 * State objects are never changed once made (reducers copy), so each one is converted once: a
 * re-render converts only what changed, and returns the very same object when nothing in it needed
 * an escape (so a normal frame allocates nothing here).
 */
const converted = new WeakMap<object, unknown>();

function convert(value: unknown): unknown {
  if (typeof value === 'string') return displayText(value);
  if (typeof value !== 'object' || value === null) return value;
  // The state is made of plain objects and arrays; anything else (none today) is not taken apart.
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value;
  const known = converted.get(value);
  if (known !== undefined) return known;
  let result: unknown = value;
  if (Array.isArray(value)) {
    const items = value.map(convert);
    if (items.some((item, i) => item !== value[i])) result = items;
  } else {
    const entries = Object.entries(value).map(([key, item]) => [key, convert(item)] as const);
    if (entries.some(([key, item]) => item !== (value as Record<string, unknown>)[key]))
      result = Object.fromEntries(entries);
  }
  converted.set(value, result);
  return result;
}

export function displayed<T>(value: T): Displayed<T> {
  return convert(value) as Displayed<T>;
}
