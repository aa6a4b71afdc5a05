/**
 * Account files as lines of bytes. Text is held as latin1 (one char per byte), so any byte
 * sequence, valid UTF-8 or not, splits and joins back to exactly the same bytes.
 */

export type FileBytes = Buffer | Uint8Array;

/** Every `\n`-separated piece; joining them with `\n` gives the file back byte for byte. */
export function splitLines(bytes: FileBytes): string[] {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1').split('\n');
}

export function joinLines(lines: readonly string[]): Buffer {
  return Buffer.from(lines.join('\n'), 'latin1');
}

/** A field as text for people (the bytes read as UTF-8). */
export const displayText = (latin1: string): string => Buffer.from(latin1, 'latin1').toString('utf8');

/** A decimal field: null when empty, undefined when it is not a plain unsigned number. */
export function numberField(text: string): number | null | undefined {
  if (text === '') return null;
  if (!/^[0-9]{1,15}$/.test(text)) return undefined;
  return Number(text);
}
