import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { anchoredScreen, anchorFrame } from '../../src/tui/anchored-frames.js';

const ESC = '\u001b';
/** What Ink's log-update writes to go back over a frame of `lines` lines. */
const inkErase = (lines: number) => `${`${ESC}[2K${ESC}[1A`.repeat(lines - 1)}${ESC}[2K${ESC}[G`;

/** A terminal stream that records what is written to it. */
function fakeTerminal() {
  const written: string[] = [];
  const stream = Object.assign(new EventEmitter(), {
    isTTY: true,
    columns: 100,
    rows: 30,
    write(chunk: string) {
      written.push(chunk);
      return true;
    },
  });
  return { stream: stream as unknown as NodeJS.WriteStream, written };
}

describe('anchorFrame', () => {
  it('draws a frame from the home position, each line clearing its rest, the rest of the screen cleared', () => {
    const anchored = anchorFrame(`${inkErase(3)}title\nrow\n`);
    expect(anchored).toBe(`${ESC}[Htitle${ESC}[K\nrow${ESC}[K\n${ESC}[J`);
  });

  it('anchors the first frame, which Ink writes without moving up', () => {
    expect(anchorFrame('only\n')).toBe(`${ESC}[Honly${ESC}[K\n${ESC}[J`);
  });

  it('keeps the frame text whole, its own escapes included', () => {
    const line = `${ESC}[1mbold${ESC}[22m · ${ESC}[2Kx`;
    expect(anchorFrame(`${inkErase(1)}${line}\n`)).toBe(`${ESC}[H${line}${ESC}[K\n${ESC}[J`);
  });

  it('anchors a frame as tall as the terminal, which Ink writes without a final newline', () => {
    expect(anchorFrame(`${inkErase(2)}a\nb`)).toBe(`${ESC}[Ha${ESC}[K\nb${ESC}[K${ESC}[J`);
  });

  it('leaves what is not a frame alone', () => {
    expect(anchorFrame(`${ESC}[?2026h`)).toBeUndefined();
    expect(anchorFrame(`${ESC}[?25l`)).toBeUndefined();
  });
});

describe('anchoredScreen', () => {
  it('writes frames anchored, passes other writes through, and draws the last frame again', () => {
    const terminal = fakeTerminal();
    const screen = anchoredScreen(terminal.stream);
    screen.stream.write(`${ESC}[?25l`);
    screen.stream.write(`${inkErase(2)}one\ntwo\n`);
    screen.repaint();
    expect(terminal.written).toEqual([
      `${ESC}[?25l`,
      `${ESC}[Hone${ESC}[K\ntwo${ESC}[K\n${ESC}[J`,
      `${ESC}[2J${ESC}[Hone${ESC}[K\ntwo${ESC}[K\n${ESC}[J`,
    ]);
  });

  it("turns Ink's clear into a cleared screen, after which there is no frame to draw again", () => {
    const terminal = fakeTerminal();
    const screen = anchoredScreen(terminal.stream);
    screen.stream.write('frame\n');
    screen.stream.write(inkErase(2));
    screen.repaint();
    expect(terminal.written.slice(1)).toEqual([`${ESC}[H${ESC}[J`, `${ESC}[2J`]);
  });

  it("is the terminal's own stream for everything else: size, resize events", () => {
    const terminal = fakeTerminal();
    const { stream } = anchoredScreen(terminal.stream);
    expect([stream.columns, stream.rows, stream.isTTY]).toEqual([100, 30, true]);
    let resized = 0;
    const onResize = () => resized++;
    stream.on('resize', onResize);
    terminal.stream.emit('resize');
    stream.off('resize', onResize);
    terminal.stream.emit('resize');
    expect(resized).toBe(1);
  });
});
