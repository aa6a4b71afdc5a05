import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphemeSegmenter } from '../../src/tui/segmenter.js';

/** The characters the shortcut takes, one code unit each. */
const SINGLE = [
  [0x00, 0x7f],
  [0xa0, 0xff],
  [0x2010, 0x2027],
  [0x2190, 0x21ff],
  [0x2500, 0x25ff],
].flatMap(([from, to]) => Array.from({ length: to! - from! + 1 }, (_, i) => String.fromCharCode(from! + i)));

const intl = new Intl.Segmenter();
const clusters = (segments: Iterable<{ segment: string; index: number; input: string }>) =>
  [...segments].map(({ segment, index, input }) => [segment, index, input]);

describe('the bundle’s Intl.Segmenter', () => {
  it('splits every pair of the characters it takes on itself as ICU does, without ICU', () => {
    for (const a of SINGLE) {
      const paired = SINGLE.filter((b) => !['\r\n', '\n\r'].includes(a + b))
        .map((b) => a + b)
        .join('');
      const ours = new GraphemeSegmenter();
      expect(clusters(ours.segment(paired))).toEqual(clusters(intl.segment(paired)));
      expect(Reflect.get(ours, 'real')).toBeUndefined();
    }
  });

  it('agrees with ICU on any text, and on what contains each index', () => {
    const text = fc
      .array(
        fc.oneof(
          fc.constantFrom(...SINGLE),
          fc.constantFrom(
            '\r\n',
            'e\u0301',
            '👍🏽',
            '👨‍👩‍👧',
            '🇫🇷',
            '❤️',
            '각',
            '\u1100\u1161',
            '\u200d',
            '\ufe0f',
          ),
          fc.string({ unit: 'grapheme' }),
        ),
        { maxLength: 30 },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, (t) => {
        const ours = new GraphemeSegmenter(undefined, { granularity: 'grapheme' }).segment(t);
        const theirs = intl.segment(t);
        expect(clusters(ours)).toEqual(clusters(theirs));
        for (let i = -1; i <= t.length + 1; i++) expect(ours.containing(i)).toEqual(theirs.containing(i));
        expect(ours.containing()).toEqual(theirs.containing());
      }),
      { numRuns: 1000 },
    );
  });

  it('hands other granularities to ICU', () => {
    const words = new GraphemeSegmenter('en', { granularity: 'word' });
    const text = 'gpt table · 128 partitions';
    expect([...words.segment(text)]).toEqual([
      ...new Intl.Segmenter('en', { granularity: 'word' }).segment(text),
    ]);
    expect(words.resolvedOptions().granularity).toBe('word');
  });
});
