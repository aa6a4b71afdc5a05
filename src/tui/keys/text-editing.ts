/** Line editing shared by the path and delimiter fields: printable text appends, Backspace deletes. */
import type { Key } from 'ink';

export function editText(value: string, input: string, key: Key): string {
  if (key.backspace || key.delete) return value.slice(0, -1);
  if (key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.tab || key.meta) return value;
  // Pasted text arrives as one chunk; keep only printable characters.
  const printable = [...input].filter((c) => c >= ' ' && c !== '\u007f').join('');
  return value + printable;
}
