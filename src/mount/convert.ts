/**
 * `kpartx-tui convert IMAGE [OUT]`: a VM disk container copied to a raw image by the real
 * `qemu-img convert -p -O raw`, for kernels without nbd, where a container cannot be attached.
 * The format is the probe's (never guessed), the target must not exist (default `<name>.raw`
 * beside the image), free space is checked first, progress goes to stderr, and the original is
 * only read. A signal stops qemu-img and removes the part-written copy.
 */
import { prepareConvert } from '../engine/convert.js';
import { errorText } from '../engine/errors.js';
import { createMachine } from '../kernel/machine.js';
import { convertToRaw, hostConvertFs } from '../kernel/qemu-img.js';

export const CONVERT_USAGE = 'usage: kpartx-tui convert IMAGE [OUT]';

export interface ConvertIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Redraw one progress line in place (a terminal) or print a line per 10% (a pipe). */
  tty: boolean;
}

const processIo = (): ConvertIo => ({
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  tty: process.stderr.isTTY === true,
});

export async function convertMain(args: string[], io: ConvertIo = processIo()): Promise<number> {
  const operands = args.filter((a) => a !== '--');
  if (operands.length < 1 || operands.length > 2 || operands.some((a) => a.startsWith('-') && a.length > 1)) {
    io.stderr(`${CONVERT_USAGE}\n`);
    return 2;
  }
  const [image, out] = operands as [string, string | undefined];
  let prepared: ReturnType<typeof prepareConvert>;
  try {
    prepared = prepareConvert(createMachine(), hostConvertFs, image, out);
  } catch (error) {
    io.stderr(`kpartx-tui convert: ${errorText(error)}\n`);
    return 1;
  }
  const { container, target, space } = prepared;
  io.stderr(`${space.text}\n`);
  if (!space.ok) return 1;
  const stop = new AbortController();
  let caught: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    caught = signal;
    stop.abort();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  let shown = -1;
  try {
    await convertToRaw({
      source: container.file,
      format: container.qemuFormat,
      target,
      signal: stop.signal,
      onProgress: (percent) => {
        const whole = Math.floor(percent);
        if (io.tty) io.stderr(`\rconverting to ${target}: ${whole}%`);
        else if (whole >= shown + 10 || (whole === 100 && shown !== 100)) {
          shown = whole;
          io.stderr(`converting to ${target}: ${whole}%\n`);
        }
      },
    });
    if (io.tty) io.stderr('\n');
    io.stdout(`${target}\n`);
    return 0;
  } catch (error) {
    if (io.tty) io.stderr('\n');
    io.stderr(`kpartx-tui convert: ${image}: ${errorText(error)}\n`);
    return caught === 'SIGINT' ? 130 : caught === 'SIGTERM' ? 143 : caught === 'SIGHUP' ? 129 : 1;
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
}
