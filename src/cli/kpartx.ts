/**
 * The drop-in `kpartx` command: same options, output lines, streams and exit statuses as the C
 * kpartx (multipath-tools). Checks run in the C tool's order, so the first problem decides the
 * message and status. This module never loads React or Ink, and `-l IMAGE` never loads the native
 * kernel bindings.
 */
import type { BackendKind, MapBackend, MapEvent, MapRequest } from '../engine/backend.js';
import { BackendUnavailable, chooseBackendKind, loadBackend } from '../engine/backends/select.js';
import { errorText } from '../engine/errors.js';
import { releaseHungUpTerminal } from '../engine/hangup.js';
import { releaseImageLoop } from '../engine/image-loop.js';
import { type AddLedger, mappedNumbers, removalOutcome, undoInterruptedAdd } from '../engine/interruption.js';
import { listingLines } from '../engine/listing.js';
import type { Machine } from '../engine/machine.js';
import { resolveDelimiter } from '../engine/names.js';
import type { PartitionTable } from '../engine/partition.js';
import {
  invalidContainerWarnings,
  PlanError,
  pastEndMessage,
  planMaps,
  slotsPastEnd,
} from '../engine/plan.js';
import { deferSignals, InterruptedError } from '../engine/signals.js';
import {
  type Action,
  openSourceDisk,
  type ResolvedSource,
  resolveSource,
  SourceError,
} from '../engine/source.js';
import { containerNote } from '../engine/stack/cli-note.js';
import { readPartitionTable } from '../engine/tables/index.js';
import { displayLines } from '../io/display-text.js';
import { createMachine } from '../kernel/machine.js';
import { getopt } from './getopt.js';
import { type EventContext, renderEvent } from './output.js';
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
function writeTo(stream: NodeJS.WriteStream): (text: string) => void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'EIO') throw error;
  });
  return (text) => {
    stream.write(text);
  };
}

/** Process streams and the real machine, for whatever the caller did not provide. */
function completeEnvironment(given: Partial<CliEnvironment>): CliEnvironment {
  return {
    stdout: given.stdout ?? writeTo(process.stdout),
    stderr: given.stderr ?? writeTo(process.stderr),
    env: given.env ?? process.env,
    machine: given.machine ?? createMachine(),
    makeBackend: given.makeBackend ?? loadBackend,
  };
}

/** Exit statuses are counts of failures; keep a failure from wrapping to 0. */
const statusOf = (failures: number): number => (failures <= 0 ? 0 : Math.min(failures, 255));

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
      if (options.action === 'list') return await this.act(operands[0]!, options, backendKind, this.ledger);
      // Ctrl+C, TERM or a hang-up while maps or loops are being made must not leave half of them:
      // the signal is held, an add stops at the next map, then what it made is taken back; -u and
      // -d run to their end (see signals.ts). The message says which.
      return await deferSignals(
        (interrupted) => {
          this.ledger.interrupted = interrupted;
          return this.act(operands[0]!, options, backendKind, this.ledger);
        },
        () => this.afterInterruption(options),
      );
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

  /** What this run changed, so an interruption can take it back or say what it did. */
  private readonly ledger: Ledger = { removed: [] };

  private async act(operand: string, options: CliOptions, kind: BackendKind | undefined, ledger: Ledger) {
    const source = await resolveSource(
      operand,
      options.action,
      { readOnly: options.readOnly },
      this.io.machine,
    );
    if ('nothing' in source) return 0;
    ledger.source = source;
    if (options.action === 'delete') return await this.remove(source, options, kind!);
    return await this.readAndAct(source, options, kind);
  }

  /**
   * After an interruption: an add takes back the maps this run made and lets go of a loop device
   * it attached (undoInterruptedAdd); -u and -d have run to their end. Returns what happened, as
   * the kernel shows it now.
   */
  private async afterInterruption(options: CliOptions): Promise<string> {
    const { source, request, backend, before } = this.ledger;
    if (!source) return 'nothing had been changed';
    if (options.action === 'update') return 'the update ran to its end first';
    if (options.action === 'delete') {
      const kept = backend ? backend.existing(source.parent).map((map) => map.name) : [];
      return `${removalOutcome(this.ledger.removed, kept)}${await this.imageLoopState(source)}`;
    }
    const ledger: AddLedger = backend && request && before ? { backend, request, before } : {};
    const image = source.parent.image;
    if (source.loop?.state === 'attached' && image) {
      const { loop } = this.io.machine;
      ledger.attachedLoop = { path: source.loop.path, file: image.file, loops: loop };
    }
    return undoInterruptedAdd(ledger, this.emitter('delete', options.verbose));
  }

  /** `; /dev/loop0 released` or `; /dev/loop0 is still attached` after `-d IMAGE`. */
  private async imageLoopState(source: ResolvedSource): Promise<string> {
    const image = source.parent.image;
    if (source.loop?.state !== 'found' || !image) return '';
    const { path } = source.loop;
    const bound = this.io.machine.loop
      .list()
      .some((loop) => loop.path === path && loop.backingFile === image.file);
    return bound ? `; ${path} is still attached` : `; ${path} released`;
  }

  private print(events: MapEvent[], context: EventContext, verbose: boolean): void {
    for (const event of events) {
      for (const printed of renderEvent(event, context, verbose)) {
        if (printed.stream === 'stdout') this.out(printed.text);
        else this.err(printed.text);
      }
    }
  }

  private emitter(context: EventContext, verbose: boolean) {
    return (event: MapEvent) => this.print([event], context, verbose);
  }

  private async backend(kind: BackendKind): Promise<MapBackend> {
    return this.io.makeBackend(kind, this.io.machine);
  }

  private async remove(source: ResolvedSource, options: CliOptions, kind: BackendKind): Promise<number> {
    const backend = await this.backend(kind);
    // Maps this run leaves on the parent (busy, or not ours): they keep an image's loop in use.
    const kept: string[] = [];
    this.ledger.backend = backend;
    const print = this.emitter('delete', options.verbose);
    const result = await backend.remove(
      { parent: source.parent, force: options.force, sync: options.sync },
      (event) => {
        if (event.type === 'busy' || event.type === 'not-removed' || event.type === 'failed')
          kept.push(event.name);
        if (event.type === 'removed') this.ledger.removed.push(event.name);
        print(event);
      },
    );
    let status = statusOf(result.failures);
    if (source.loop?.state === 'found') {
      // Like the C tool, `-d IMAGE` also lets go of the image's loop device, but only one that
      // kpartx attached: a loop the user set up himself stays.
      const path = source.loop.path;
      const released = releaseImageLoop(this.io.machine, path);
      if (released.outcome === 'detached' || released.outcome === 'gone') {
        if (options.verbose) this.err(`loop deleted : ${path}\n`);
      } else if (released.outcome === 'foreign') {
        if (options.verbose)
          this.err(`loop kept : ${path} (not attached by kpartx; losetup -d ${path} releases it)\n`);
      } else if (released.outcome === 'in-use') {
        const users = kept.length > 0 ? `used by ${kept.join(', ')}` : 'in use';
        if (options.verbose)
          this.err(`loop kept : ${path} (still ${users}; it is released when no longer used)\n`);
      } else {
        if (options.verbose) this.err(`can't del loop : ${path}\n`);
        status = status || 1;
      }
    }
    return status;
  }

  private async readAndAct(source: ResolvedSource, options: CliOptions, kind?: BackendKind): Promise<number> {
    const table = this.readTable(source, options);
    if (options.action === 'list') {
      if (table) this.list(table, source, options);
      if (options.verbose) this.backendNote(options);
      // The C tool attaches a loop for -l and says so when it lets go of it; we only predicted it.
      if (options.verbose && source.loop?.state === 'predicted')
        this.err(`loop deleted : ${source.loop.path}\n`);
      return 0;
    }
    if (!table) return 0;
    return this.addOrUpdate(table, source, options, kind!);
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

  private readTable(source: ResolvedSource, options: CliOptions): PartitionTable | null {
    const disk = openSourceDisk(source, this.io.machine);
    try {
      const table = readPartitionTable(disk, {
        only: options.only,
        forceGpt: options.forceGpt,
        warn: (line) => this.err(`${line}\n`),
      });
      // stdout stays the listing of the file's own bytes; a VM disk container gets one note on stderr.
      const note = source.parent.image ? containerNote(disk, source.operand, source.parent.image.file) : null;
      if (note) this.err(`${displayLines(note)}\n`);
      return table;
    } finally {
      disk.close();
    }
  }

  private list(table: PartitionTable, source: ResolvedSource, options: CliOptions): void {
    const { parent } = source;
    const delimiter = resolveDelimiter(parent.mapName, options.delimiter);
    for (const line of listingLines(table, { mapName: parent.mapName, delimiter, devicePath: parent.path })) {
      this.out(`${line}\n`);
    }
    for (const slot of slotsPastEnd(table, parent.sizeSectors)) {
      const name = `${parent.mapName}${delimiter}${slot.number}`;
      this.err(`warning: ${pastEndMessage(name, slot, parent.path, parent.sizeSectors)}\n`);
    }
  }

  private async addOrUpdate(
    table: PartitionTable,
    source: ResolvedSource,
    options: CliOptions,
    kind: BackendKind,
  ): Promise<number> {
    let maps: ReturnType<typeof planMaps>;
    try {
      maps = planMaps(table, source.parent, { delimiter: options.delimiter, readOnly: source.readOnly });
    } catch (error) {
      if (!(error instanceof PlanError)) throw error;
      for (const problem of error.problems) this.err(`${problem}\n`);
      this.err(`${source.parent.path}: no maps created: ${error.summary}\n`);
      await this.releaseAttachedLoop(source);
      return 1;
    }
    for (const warning of invalidContainerWarnings(table)) this.err(`${warning}\n`);
    const backend = await this.backend(kind);
    const request = { parent: source.parent, maps, readOnly: source.readOnly, sync: options.sync };
    const context: EventContext = options.action === 'update' ? 'update' : 'add';
    const print = this.emitter(context, options.verbose);
    this.ledger.backend = backend;
    this.ledger.request = request;
    // Only an interrupted add is taken back, against the maps that were there before it.
    if (options.action === 'add') this.ledger.before = mappedNumbers(backend, request);
    // Only an add stops early when interrupted: its undo takes everything back. -u simply finishes.
    const { interrupted } = this.ledger;
    const result = await (options.action === 'update'
      ? backend.update(request, print)
      : backend.add(interrupted ? { ...request, interrupted } : request, print));
    return statusOf(result.failures);
  }

  /** A loop attached by this run for a plan that was refused is let go again: nothing was changed. */
  private async releaseAttachedLoop(source: ResolvedSource): Promise<void> {
    if (source.loop?.state !== 'attached') return;
    try {
      this.io.machine.loop.detach(source.loop.path);
    } catch (error) {
      this.err(`can't del loop : ${source.loop.path}: ${errorText(error)}\n`);
    }
  }
}

interface Ledger {
  source?: ResolvedSource;
  backend?: MapBackend;
  request?: MapRequest;
  /** Partition numbers mapped before the add (what an interrupted add must leave). */
  before?: Set<number>;
  interrupted?: AbortSignal;
  /** Maps `-d` removed so far. */
  removed: string[];
}
