/**
 * Frames drawn from the top-left corner of the app's screen, not from wherever the cursor is.
 *
 * Ink draws a frame by moving the cursor up over the previous one, as many lines as it wrote,
 * and writing the new one there. On the alternate screen the app owns, anything else that
 * reaches the terminal between two frames (a background job's output, a kernel or `wall`
 * message, a scroll) leaves the cursor somewhere else, and from then on every frame lands
 * shifted over the remains of the last. Here each frame starts at the home position, every line
 * clears what is left of itself, and everything below the frame is cleared: a frame is whole
 * whatever came before it, and the last one can be drawn again on request (Ctrl-L).
 */

const ESC = '\u001b';
/** What Ink's log-update writes before a frame to go back over the previous one (`eraseLines`). */
const ERASE_PREVIOUS = new RegExp(`^(?:${ESC}\\[2K${ESC}\\[1A)*(?:${ESC}\\[2K${ESC}\\[G)?`);
const HOME = `${ESC}[H`;
const CLEAR_LINE_END = `${ESC}[K`;
const CLEAR_BELOW = `${ESC}[J`;
const CLEAR_SCREEN = `${ESC}[2J`;

/**
 * A frame as Ink writes it (the moves over the previous frame, then its lines: ending in a
 * newline, except when the frame fills the terminal), redrawn from the home position; anything
 * else (cursor shows and hides, synchronized-output brackets) is not a frame: undefined.
 */
export function anchorFrame(chunk: string): string | undefined {
  const back = ERASE_PREVIOUS.exec(chunk)?.[0] ?? '';
  const frame = chunk.slice(back.length);
  const endsLine = frame.endsWith('\n');
  if (frame === '' || (back === '' && !endsLine)) return undefined;
  const lines = endsLine ? frame.slice(0, -1) : frame;
  return `${HOME}${lines.replaceAll('\n', `${CLEAR_LINE_END}\n`)}${CLEAR_LINE_END}${endsLine ? '\n' : ''}${CLEAR_BELOW}`;
}

/** Moving up over the previous frame and nothing else: what Ink's `clear()` writes. */
function isEraseOnly(chunk: string): boolean {
  return chunk.length > 0 && chunk.replace(ERASE_PREVIOUS, '') === '';
}

export interface AnchoredScreen {
  /** The stream to hand Ink: the terminal's, with frames anchored. */
  stream: NodeJS.WriteStream;
  /** Clear the screen and draw the last frame again. */
  repaint(): void;
}

export function anchoredScreen(stdout: NodeJS.WriteStream): AnchoredScreen {
  let lastFrame = '';
  const write = (chunk: unknown, ...rest: unknown[]): boolean => {
    if (typeof chunk === 'string') {
      const anchored = anchorFrame(chunk);
      if (anchored !== undefined) {
        lastFrame = anchored;
        return stdout.write(anchored, ...(rest as []));
      }
      // Ink's own clear: the whole screen is the frame's, so clear it all.
      if (isEraseOnly(chunk)) {
        lastFrame = '';
        return stdout.write(`${HOME}${CLEAR_BELOW}`, ...(rest as []));
      }
    }
    return stdout.write(chunk as string, ...(rest as []));
  };
  // Everything else (size, isTTY, resize events) is the terminal's own, called on the terminal.
  const stream = new Proxy(stdout, {
    get(target, key) {
      if (key === 'write') return write;
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    stream,
    repaint() {
      stdout.write(`${CLEAR_SCREEN}${lastFrame}`);
    },
  };
}
