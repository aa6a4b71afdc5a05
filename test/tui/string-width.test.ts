import fc from 'fast-check';
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import narrowFirstStringWidth from '../../src/tui/string-width.js';

/** Every character the shortcut takes, and its neighbours just outside. */
const RANGES: [number, number][] = [
  [0x0000, 0x0300],
  [0x2000, 0x2030],
  [0x2180, 0x2200],
  [0x24f0, 0x2600],
];
const characters = RANGES.flatMap(([from, to]) =>
  Array.from({ length: to - from }, (_, i) => String.fromCharCode(from + i)),
);

describe('the bundle’s string-width', () => {
  it('measures every character around the shortcut as string-width does', () => {
    for (const c of characters) expect([c, narrowFirstStringWidth(c)]).toEqual([c, stringWidth(c)]);
  });

  it('agrees with string-width on mixed text, styled or not, and with options', () => {
    const sgr = fc.constantFrom('\u001b[1m', '\u001b[22m', '\u001b[36m', '\u001b[39m', '\u001b[38;5;12m');
    const piece = fc.oneof(
      fc.constantFrom(...characters),
      sgr,
      fc.constantFrom('界', '😀', '❤️', 'e\u0301', '\u200d', '\u001b]8;;x\u0007', '\t', '©\ufe0f'),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.boolean(), (pieces, wide) => {
        const text = pieces.join('');
        expect(narrowFirstStringWidth(text)).toBe(stringWidth(text));
        const options = { ambiguousIsNarrow: !wide };
        expect(narrowFirstStringWidth(text, options)).toBe(stringWidth(text, options));
      }),
      { numRuns: 2000 },
    );
  });

  it('measures the app’s own text as string-width does', () => {
    const line = '\u001b[36mgpt table\u001b[39m · 160 MiB · █▓░ 1–7 of 128 … ↑↓ move ●└';
    expect(narrowFirstStringWidth(line)).toBe(stringWidth(line));
    expect(narrowFirstStringWidth(line)).toBe(49);
  });
});
