/**
 * Where `kpartx-tui passwd` gets the new password: from stdin when it is not a terminal (one line,
 * for scripts: `printf '%s\n' "$pw" | kpartx-tui passwd …`), else asked twice on the terminal with
 * nothing echoed, as passwd(1) does. Ctrl-C while asking is a SIGINT like any other.
 */
import { InterruptedError } from '../engine/signals.js';

/** More than any password a crypt scheme takes; a stdin this long is not a password. */
const MAX_INPUT = 4096;

export class PasswordInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PasswordInputError';
  }
}

/**
 * Lines of a piped stdin, one after another, without losing what came after a line in the same
 * chunk: `passwd` over LUKS reads the passphrase, then the new password.
 */
export function pipedLines(input: NodeJS.ReadableStream): () => Promise<string> {
  let buffered = '';
  let ended = false;
  input.on('end', () => {
    ended = true;
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const done = (error: Error | null, line?: string) => {
        input.off('data', onData);
        input.off('end', onEnd);
        input.pause();
        if (error) reject(error);
        else resolve(line!);
      };
      const take = (): boolean => {
        const end = buffered.indexOf('\n');
        if (end < 0 && buffered.length > MAX_INPUT) {
          done(
            new PasswordInputError(
              `stdin holds more than ${MAX_INPUT} bytes without a line end: not a password`,
            ),
          );
          return true;
        }
        if (end < 0 && !ended) return false;
        const line = (end < 0 ? buffered : buffered.slice(0, end)).replace(/\r$/, '');
        buffered = end < 0 ? '' : buffered.slice(end + 1);
        if (line === '')
          done(
            new PasswordInputError(
              ended && end < 0 ? 'stdin ended before the line was given' : 'stdin gave an empty line',
            ),
          );
        else done(null, line);
        return true;
      };
      const onData = (chunk: Buffer | string) => {
        buffered += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
        take();
      };
      const onEnd = () => {
        ended = true;
        take();
      };
      if (take()) return;
      input.on('data', onData);
      input.on('end', onEnd);
      input.resume();
    });
}

let processLines: (() => Promise<string>) | undefined;

/** The next line of this process's piped stdin (one reader for the passphrase and the password). */
export function nextStdinLine(): Promise<string> {
  processLines ??= pipedLines(process.stdin);
  return processLines();
}

export interface Terminal {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

/** One line typed with echo off: Enter ends it, Backspace takes a character back, Ctrl-C interrupts. */
function askHidden(terminal: Terminal, prompt: string): Promise<string> {
  const { input, output } = terminal;
  output.write(prompt);
  return new Promise((resolve, reject) => {
    let typed = '';
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    input.resume();
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new InterruptedError('SIGINT', 'nothing was changed'));
        if (char === '\u0004' && typed === '') return finish(new PasswordInputError('no password given'));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else if (char >= ' ') typed += char;
      }
    };
    input.on('data', onData);
  });
}

/** A LUKS passphrase, asked once (cryptsetup says whether it was right). */
export async function askPassphrase(terminal: Terminal, what: string): Promise<string> {
  const typed = await askHidden(terminal, `Enter passphrase for ${what}: `);
  if (typed === '') throw new PasswordInputError('empty passphrase: nothing was opened');
  return typed;
}

/** Asked twice; the two must match. */
export async function askNewPassword(terminal: Terminal, user: string): Promise<string> {
  const first = await askHidden(terminal, `New password for ${user}: `);
  if (first === '') throw new PasswordInputError('empty password: nothing was changed');
  const second = await askHidden(terminal, `Retype new password for ${user}: `);
  if (first !== second) throw new PasswordInputError('the two passwords differ: nothing was changed');
  return first;
}
