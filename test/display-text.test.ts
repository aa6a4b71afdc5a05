import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import { fixtureImage } from '../fixtures/dos-gpt.js';
import { readPartitionTable } from '../src/engine/tables/index.js';
import { decodeUtf8Visibly, displayLines, displayText } from '../src/io/display-text.js';
import { cLabel, utf16Label } from '../src/probe/text.js';
import { createTuiEngine } from '../src/tui/engine.js';
import { FakeMachine } from './support/fake-machine.js';
import { setGptNames } from './support/gpt-names.js';
import { memoryDisk } from './support/memory-disk.js';

/** Anything a terminal acts on: C0, DEL, C1, bidi controls, lone surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters
const ACTIVE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|\p{Cs}/u;

/** Any UTF-16 code units (lone surrogates included), with the interesting ones made frequent. */
const mixedText = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)),
      fc.integer({ min: 0, max: 0xa0 }).map((u) => String.fromCharCode(u)),
      fc.constantFrom('\u001b', '\u202e', '\u2066', '\u061c', '🐧', 'ル', '\\', 'x'),
    ),
    { maxLength: 16 },
  )
  .map((parts) => parts.join(''));

describe('displayText', () => {
  it('escapes every C0 control and DEL as \\xNN', () => {
    for (let c = 0; c < 0x20; c++) {
      expect(displayText(`a${String.fromCharCode(c)}b`)).toBe(`a\\x${c.toString(16).padStart(2, '0')}b`);
    }
    expect(displayText('a\u007fb')).toBe('a\\x7fb');
  });

  it('escapes every C1 control as \\u00NN (a code point, not a stray byte)', () => {
    for (let c = 0x80; c <= 0x9f; c++) {
      expect(displayText(String.fromCharCode(c))).toBe(`\\u00${c.toString(16)}`);
    }
  });

  it('escapes bidi marks, embeddings, overrides and isolates', () => {
    const bidi = [
      0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
    ];
    for (const c of bidi)
      expect(displayText(`x${String.fromCharCode(c)}y`)).toBe(`x\\u${c.toString(16).padStart(4, '0')}y`);
    // The classic file-name trick: "evil\u202Egpj.exe" must not read as "evilexe.jpg".
    expect(displayText('evil\u202egpj.exe')).toBe('evil\\u202egpj.exe');
  });

  it('escapes lone surrogates (a GPT name is UTF-16 and may hold them) but keeps valid pairs', () => {
    expect(displayText('a\ud800b')).toBe('a\\ud800b');
    expect(displayText('\udfff')).toBe('\\udfff');
    expect(displayText('\udc00\ud800')).toBe('\\udc00\\ud800');
    expect(displayText('root 🐧 \u{1f600}')).toBe('root 🐧 \u{1f600}');
  });

  it('defuses the sequences a hostile disk would use', () => {
    expect(displayText('\u001b]0;PWNED\u0007')).toBe('\\x1b]0;PWNED\\x07');
    expect(displayText('\u001b]52;c;cm0gLXJmIH4=\u0007')).toBe('\\x1b]52;c;cm0gLXJmIH4=\\x07');
    expect(displayText('ok\r\u001b[2Jgone')).toBe('ok\\x0d\\x1b[2Jgone');
    expect(displayText('\u009b31m')).toBe('\\u009b31m');
  });

  it('keeps valid text, multibyte included, exactly as it is', () => {
    for (const text of ['', 'EFI System', 'données', 'ルート', 'Ünïcödé ½ ©', 'tab-less', 'a\\x1b literal']) {
      expect(displayText(text)).toBe(text);
    }
  });

  it('turns every control into printable ASCII of one column per character', () => {
    const hostile = '\u001b]0;t\u0007\r\n\t\u007f\u0085\u202e\ud800';
    const shown = displayText(hostile);
    expect(shown).toMatch(/^[\x20-\x7e]+$/);
    expect(stringWidth(shown)).toBe(shown.length);
    // Wide characters keep their two columns next to the escapes.
    expect(stringWidth(displayText('ルート\u001b'))).toBe(6 + 4);
  });

  it('leaves nothing a terminal acts on, changes nothing else, and is idempotent (property)', () => {
    fc.assert(
      fc.property(mixedText, (text) => {
        const shown = displayText(text);
        expect(ACTIVE.test(shown)).toBe(false);
        expect(displayText(shown)).toBe(shown);
        if (!ACTIVE.test(text)) expect(shown).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});

describe('displayLines', () => {
  it('keeps the newlines of a message and escapes everything else', () => {
    expect(displayLines('first \u001b[2J\nsecond\r\n')).toBe('first \\x1b[2J\nsecond\\x0d\n');
    expect(displayLines('plain')).toBe('plain');
  });
});

describe('decodeUtf8Visibly', () => {
  const bytes = (...b: number[]) => Uint8Array.from(b);
  const utf8 = (s: string) => new TextEncoder().encode(s);

  it('decodes valid UTF-8 as TextDecoder does, controls kept as characters', () => {
    for (const text of ['', 'root', 'données', 'ルート', '🐧', '\u001b]0;x\u0007', '\u202e']) {
      expect(decodeUtf8Visibly(utf8(text))).toBe(text);
    }
  });

  it('writes each byte outside a valid sequence as \\xNN instead of U+FFFD', () => {
    expect(decodeUtf8Visibly(bytes(0x61, 0xff, 0x62))).toBe('a\\xffb');
    expect(decodeUtf8Visibly(bytes(0x80))).toBe('\\x80');
    // A sequence cut short: its lead and continuation bytes are shown, the next character is kept.
    expect(decodeUtf8Visibly(bytes(0xe3, 0x83, 0x41))).toBe('\\xe3\\x83A');
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    expect(decodeUtf8Visibly(bytes(0xc0, 0xaf))).toBe('\\xc0\\xaf');
    expect(decodeUtf8Visibly(bytes(0xe0, 0x80, 0xaf))).toBe('\\xe0\\x80\\xaf');
    expect(decodeUtf8Visibly(bytes(0xed, 0xa0, 0x80))).toBe('\\xed\\xa0\\x80');
    expect(decodeUtf8Visibly(bytes(0xf4, 0x90, 0x80, 0x80))).toBe('\\xf4\\x90\\x80\\x80');
    expect(decodeUtf8Visibly(bytes(0xf0, 0x9f, 0x90))).toBe('\\xf0\\x9f\\x90');
    // Valid text around the bad bytes is decoded.
    expect(decodeUtf8Visibly(bytes(0xff, ...utf8('ルート'), 0xfe))).toBe('\\xffルート\\xfe');
  });

  it('agrees with TextDecoder wherever TextDecoder needs no replacement (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (b) => {
        const shown = decodeUtf8Visibly(b);
        const plain = new TextDecoder().decode(b);
        if (!plain.includes('\ufffd')) expect(shown).toBe(plain);
        expect(shown.includes('\ufffd')).toBe(false);
        // Every escape stands for one byte: dropping them leaves the valid text TextDecoder kept.
        expect(shown.replace(/\\x[0-9a-f]{2}/g, '')).toBe(plain.replace(/\ufffd/g, ''));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('text read from disks and directories keeps what is not text visible', () => {
  it('a C-string label (ext4, xfs, btrfs…) shows bytes that are not UTF-8 as \\xNN, not U+FFFD', () => {
    const field = Uint8Array.from([0x1b, 0x5d, 0x30, 0x3b, 0x4c, 0x07, 0xff, 0x41, 0, 0, 0]);
    expect(cLabel(field, 0, field.length)).toBe('\u001b]0;L\u0007\\xffA');
    expect(displayText(cLabel(field, 0, field.length)!)).toBe('\\x1b]0;L\\x07\\xffA');
  });

  it('a UTF-16 label (NTFS, exFAT, Joliet) keeps a lone surrogate, shown as \\udXXX', () => {
    const field = Uint8Array.from([0x41, 0, 0x00, 0xd8, 0x42, 0, 0, 0]);
    expect(utf16Label(field, 0, field.length, true)).toBe('A\ud800B');
    expect(displayText(utf16Label(field, 0, field.length, true)!)).toBe('A\\ud800B');
  });

  it('a GPT name keeps every code unit, controls and lone surrogates included', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'kpartx-gpt-names-')), 'gpt.img');
    try {
      writeFileSync(path, fixtureImage('t04.img'));
      setGptNames(path, new Map([[2, '\u001b]0;x\u0007\udc00\u202e']]));
      const bytes = new Uint8Array(readFileSync(path));
      const table = readPartitionTable(memoryDisk(bytes, 512), { forceGpt: false, warn: () => {} });
      expect(table?.slots[1]?.name).toBe('\u001b]0;x\u0007\udc00\u202e');
      expect(displayText(table!.slots[1]!.name!)).toBe('\\x1b]0;x\\x07\\udc00\\u202e');
    } finally {
      rmSync(dirname(path), { recursive: true, force: true });
    }
  });

  it('the mounted tree lists a file name that is not UTF-8 with its bytes as \\xNN', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpartx-tree-'));
    try {
      writeFileSync(
        Buffer.concat([Buffer.from(`${dir}/bad-`), Buffer.from([0xff]), Buffer.from('.txt')]),
        '',
      );
      writeFileSync(join(dir, 'title\u001b]0;x\u0007'), '');
      mkdirSync(join(dir, 'sub'));
      const engine = createTuiEngine({ machine: new FakeMachine(), cwd: dir });
      expect(engine.listTree(dir)).toEqual(['sub/', 'bad-\\xff.txt', 'title\u001b]0;x\u0007']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
