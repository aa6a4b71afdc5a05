/**
 * The drop-in `kpartx` command: same options, output lines, streams and exit statuses as the C
 * kpartx (multipath-tools). Checks run in the C tool's order, so the first problem decides the
 * message and status. This module never loads React or Ink, and `-l IMAGE` never loads the native
 * kernel bindings.
 */
import { writeSync } from 'node:fs';
import type { BackendKind, MapBackend } from '../engine/backend.js';
import { BackendUnavailable, chooseBackendKind, loadBackend } from '../engine/backends/select.js';
import { errorText } from '../engine/errors.js';
import { releaseHungUpTerminal } from '../engine/hangup.js';
import { listingLines } from '../engine/listing.js';
import type { Machine } from '../engine/machine.js';
import { pastEndMessage, slotsPastEnd } from '../engine/plan.js';
import { InterruptedError } from '../engine/signals.js';
import { type Action, SourceError } from '../engine/source.js';
import { MapRun, runMaps, statusOf } from '../engine/workflow/map-run.js';
import { displayLines } from '../io/display-text.js';
import { createMachine } from '../kernel/machine.js';
import { getopt } from './getopt.js';
import { type EventContext, type Printed, renderRunEvent } from './output.js';
import { sourceErrorOutput } from './source-error-output.js';
import { usageText } from './usage.js';

export interface CliEnvironment {
  /** Buffered like the C tool's stdout: written once at the end. */
  stdout(text: string): void;
  /** Written at once. */
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  machine: Machine;
  /** Makes the backend of the chosen kind (tests pass options such as a lock wait). */
  makeBackend(kind: BackendKind, machine: Machine): Promise<MapBackend> | MapBackend;
}

export interface CliOptions {
  action: Action;
  readOnly: boolean;
  /** `-p`; undefined means the digit rule. */
  delimiter?: string;
  force: boolean;
  forceGpt: boolean;
  /** `-t`: only this table reader. */
  only?: string;
  verbose: boolean;
  sync: boolean;
  backend?: BackendKind;
}

const SHORT_OPTIONS = 'rladfgvp:t:snu';
const LONG_OPTIONS = [{ name: 'backend', hasArg: true, key: 'backend' }];
const ACTIONS: Record<string, Action> = { l: 'list', a: 'add', d: 'delete', u: 'update' };

/** glibc names the program by argv[0]; a Node script's path is cut to its base name, without `.js`/`.cjs`/`.mjs`. */
export function programName(argv0: string | undefined): string {
  const base = (argv0 ?? 'kpartx').slice((argv0 ?? '').lastIndexOf('/') + 1);
  return base.replace(/\.[cm]?js$/, '') || 'kpartx';
}

type Parsed = { ok: true; options: CliOptions; operands: string[] } | { ok: false; message?: string };

export function parseArguments(args: string[], program: string, posixlyCorrect: boolean): Parsed {
  const result = getopt(args, {
    program,
    shortOptions: SHORT_OPTIONS,
    longOptions: LONG_OPTIONS,
    posixlyCorrect,
  });
  if (!result.ok) return { ok: false, message: result.message };
  const options: CliOptions = {
    action: 'list',
    readOnly: false,
    force: false,
    forceGpt: false,
    verbose: false,
    sync: true,
  };
  for (const { key, arg } of result.options) {
    if (key in ACTIONS) options.action = ACTIONS[key]!;
    else if (key === 'r') options.readOnly = true;
    else if (key === 'p') options.delimiter = arg ?? '';
    else if (key === 'f') options.force = true;
    else if (key === 'g') options.forceGpt = true;
    else if (key === 't') options.only = arg ?? '';
    else if (key === 'v') options.verbose = true;
    else if (key === 's') options.sync = true;
    else if (key === 'n') options.sync = false;
    else if (key === 'backend') {
      if (arg !== 'dm' && arg !== 'loop') {
        return { ok: false, message: `${program}: invalid backend '${arg}': use dm or loop` };
      }
      options.backend = arg;
    }
  }
  return { ok: true, options, operands: result.operands };
}

/**
 * A reader that went away (`kpartx -l x | head -1`) ends output quietly, as SIGPIPE ends the C
 * tool; so does a terminal that hung up (EIO), whose SIGHUP the run is handling: it must still
 * take back what it made rather than die on a write.
 */
function writeTo(stream: NodeJS.WriteStream): (text: string | Uint8Array) => void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'EIO') throw error;
  });
  return (text) => {
    stream.write(text);
  };
}

/**
 * Standard output's one write, made with write(2) on descriptor 1 rather than through
 * process.stdout: making that stream loads Node's streams and, for a pipe, its sockets, milliseconds
 * that `kpartx -l` must start without. A descriptor that would block (a non-blocking pipe whose
 * reader lags) gets the rest through process.stdout, which waits for it.
 */
export function writeStandardOutput(text: string, fd = 1, fallback = () => writeTo(process.stdout)): void {
  const bytes = Buffer.from(text);
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(fd, bytes, done);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The bytes as they are: the write may have stopped inside a character.
    if (code === 'EAGAIN') fallback()(bytes.subarray(done));
    else if (code !== 'EPIPE' && code !== 'EIO') throw error;
  }
}

/** process.stderr, made only when something is written to it (see writeStandardOutput). */
function standardError(): (text: string) => void {
  let write: ((text: string) => void) | undefined;
  return (text) => {
    write ??= writeTo(process.stderr);
    write(text);
  };
}

/** Process streams and the real machine, for whatever the caller did not provide. */
function completeEnvironment(given: Partial<CliEnvironment>): CliEnvironment {
  return {
    stdout: given.stdout ?? writeStandardOutput,
    stderr: given.stderr ?? standardError(),
    env: given.env ?? process.env,
    machine: given.machine ?? createMachine(),
    makeBackend: given.makeBackend ?? loadBackend,
  };
}

export async function main(argv: string[], environment: Partial<CliEnvironment> = {}): Promise<number> {
  const io = completeEnvironment(environment);
  const buffered: string[] = [];
  const run = new Run(io, (text) => buffered.push(text));
  try {
    return await run.execute(argv);
  } finally {
    if (buffered.length > 0) io.stdout(buffered.join(''));
    // On the process's own terminal: one that hung up must not make Node abort at exit.
    if (!environment.stdout) releaseHungUpTerminal();
  }
}

class Run {
  constructor(
    private readonly io: CliEnvironment,
    private readonly out: (text: string) => void,
  ) {}

  /**
   * Every stderr line may quote an operand, a map name or disk text: controls in them are written
   * as visible escapes (`\x1b`), never sent to the terminal. Normal names are unchanged.
   */
  private err(text: string): void {
    this.io.stderr(displayLines(text));
  }

  private usage(): number {
    this.out(usageText());
    return 1;
  }

  async execute(argv: string[]): Promise<number> {
    if (argv.length < 2) return this.usage();
    const program = programName(argv[0]);
    const parsed = parseArguments(argv.slice(1), program, this.io.env.POSIXLY_CORRECT !== undefined);
    if (!parsed.ok) {
      if (parsed.message) this.err(`${parsed.message}\n`);
      return this.usage();
    }
    const { options, operands } = parsed;
    const machine = this.io.machine;

    // The C tool checks device-mapper before the operand count; listing needs no backend at all.
    let backendKind: BackendKind | undefined;
    if (options.action !== 'list') {
      try {
        backendKind = chooseBackendKind(machine, {
          requested: options.backend,
          loopAvailable: machine.loop.available(),
        });
      } catch (error) {
        this.err(`${error instanceof BackendUnavailable ? error.message : errorText(error)}\n`);
        return 1;
      }
    }
    if (operands.length < 1 || operands.length > 2) return this.usage();

    try {
      if (options.action === 'list') return await this.list(operands[0]!, options);
      // Ctrl+C, TERM or a hang-up while maps or loops are being made must not leave half of them:
      // the workflow holds the signal; an add stops at the next map and what it made is taken
      // back, -u and -d run to their end (see signals.ts). The message says which.
      let context: EventContext = options.action === 'update' ? 'update' : options.action;
      const outcome = await runMaps(
        { ...this.request(operands[0]!, options), action: options.action, backend: backendKind! },
        { machine, makeBackend: this.io.makeBackend },
        (event) => {
          // The take-back after a signal is worded as a removal.
          if (event.type === 'interrupted') context = 'delete';
          this.print(renderRunEvent(event, context, options.verbose));
        },
      );
      return statusOf(outcome.failures);
    } catch (error) {
      if (error instanceof InterruptedError) {
        this.err(`${programName(argv[0])}: ${error.message}\n`);
        return error.exitCode;
      }
      if (error instanceof SourceError) {
        const output = sourceErrorOutput(error);
        for (const line of output.before) this.err(`${line}\n`);
        // The C tool prints some errors on stdout; the operand they quote is escaped all the same.
        if (output.stream === 'stdout') this.out(`${displayLines(error.message)}\n`);
        else this.err(`${error.message}\n`);
        return output.exitCode;
      }
      this.err(`${errorText(error)}\n`);
      return 1;
    }
  }

  private request(operand: string, options: CliOptions) {
    return {
      operand,
      readOnly: options.readOnly,
      ...(options.delimiter !== undefined ? { delimiter: options.delimiter } : {}),
      forceGpt: options.forceGpt,
      ...(options.only !== undefined ? { only: options.only } : {}),
      sync: options.sync,
      force: options.force,
    };
  }

  private print(printed: Printed[]): void {
    for (const { stream, text } of printed) {
      if (stream === 'stdout') this.out(text);
      else this.err(text);
    }
  }

  /** `-l`: what `-a` would create; changes nothing (an image's loop is only predicted). */
  private async list(operand: string, options: CliOptions): Promise<number> {
    const run = new MapRun(
      { ...this.request(operand, options), action: 'list', backend: options.backend ?? 'dm' },
      { machine: this.io.machine, makeBackend: this.io.makeBackend },
      (event) => this.print(renderRunEvent(event, 'add', options.verbose)),
    );
    const source = await run.resolve();
    if (!source) return 0;
    const table = run.readTable();
    const { parent } = source;
    if (table) {
      for (const line of listingLines(table, {
        mapName: parent.mapName,
        delimiter: run.delimiter,
        devicePath: parent.path,
      })) {
        this.out(`${line}\n`);
      }
      for (const slot of slotsPastEnd(table, parent.sizeSectors)) {
        const name = `${parent.mapName}${run.delimiter}${slot.number}`;
        this.err(`warning: ${pastEndMessage(name, slot, parent.path, parent.sizeSectors)}\n`);
      }
    }
    if (options.verbose) this.backendNote(options);
    // The C tool attaches a loop for -l and says so when it lets go of it; we only predicted it.
    if (options.verbose && source.loop?.state === 'predicted')
      this.err(`loop deleted : ${source.loop.path}\n`);
    return 0;
  }

  /**
   * `-lv` says which backend `-a` would use when it is not device-mapper (on a machine with
   * device-mapper the output stays the C tool's to the byte).
   */
  private backendNote(options: CliOptions): void {
    const dm = options.backend !== 'loop' && this.io.machine.deviceMapperPresent();
    if (dm || options.backend === 'dm') return;
    const why = options.backend === 'loop' ? 'as asked' : 'no device-mapper in this kernel';
    this.err(`backend: loop (${why}): -a maps each partition as its own loop device\n`);
  }
}
