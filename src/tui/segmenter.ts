/**
 * Intl.Segmenter as the TUI bundle hands it to Ink's text libraries (scripts/bundle-tui.mjs swaps
 * it in): the same grapheme clusters, without ICU for text where every code unit is a cluster.
 *
 * Ink splits every line of every frame into grapheme clusters (ANSI tokenizer, string-width, slice-
 * ansi), and each of those libraries makes its Intl.Segmenter when loaded. Creating the first one
 * loads ICU's break rules, some 15-20 ms of the app's start. The text the app draws is ASCII,
 * Latin-1, punctuation, arrows, box drawing, blocks and geometric shapes: characters that never
 * join a neighbour into one cluster (no combining or spacing marks, joiners, variation selectors,
 * Hangul jamo or regional indicators among them), so a string of them, barring a CR LF pair, has
 * one cluster per code unit. Anything else, and any granularity but graphemes, goes to a real
 * Intl.Segmenter, made on first need.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are clusters of their own
const SINGLE_UNIT_CLUSTERS = /^[\u0000-\u007f\u00a0-\u00ff\u2010-\u2027\u2190-\u21ff\u2500-\u25ff]*$/;

interface Segment {
  segment: string;
  index: number;
  input: string;
}

interface Segments extends Iterable<Segment> {
  containing(index?: number): Segment | undefined;
}

export class GraphemeSegmenter {
  private real: Intl.Segmenter | undefined;
  private readonly graphemes: boolean;

  constructor(
    private readonly locales?: string | string[],
    private readonly options?: Intl.SegmenterOptions,
  ) {
    this.graphemes = (options?.granularity ?? 'grapheme') === 'grapheme';
  }

  segment(input: string): Segments | Intl.Segments {
    const text = String(input);
    if (!this.graphemes || !SINGLE_UNIT_CLUSTERS.test(text) || text.includes('\r\n')) {
      this.real ??= new Intl.Segmenter(this.locales, this.options);
      return this.real.segment(text);
    }
    return {
      containing(index = 0) {
        const at = Math.trunc(Number(index) || 0);
        return at >= 0 && at < text.length ? { segment: text.charAt(at), index: at, input: text } : undefined;
      },
      *[Symbol.iterator]() {
        for (let index = 0; index < text.length; index++)
          yield { segment: text.charAt(index), index, input: text };
      },
    };
  }

  resolvedOptions(): Intl.ResolvedSegmenterOptions {
    this.real ??= new Intl.Segmenter(this.locales, this.options);
    return this.real.resolvedOptions();
  }
}
