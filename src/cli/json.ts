/**
 * `kpartx-tui --json [-p DELIM] [-g] [-t TYPE] [-r] [--backend dm|loop] [--no-probe] SOURCE...`:
 * the inspection of every source as one JSON document on stdout, for scripts. Nothing is attached
 * or changed. One process handles any number of sources, so a batch costs one Node start-up.
 */
import type { BackendKind, MapBackend } from '../engine/backend.js';
import { loadBackend } from '../engine/backends/select.js';
import { decideBackend, inspectSources, type SourceReport } from '../engine/inspect.js';
import type { Machine } from '../engine/machine.js';
import { displayLines } from '../io/display-text.js';
import { getopt } from './getopt.js';

export const JSON_USAGE =
  'usage: kpartx-tui --json [-p DELIM] [-g] [-t TYPE] [-r] [--backend dm|loop] [--no-probe] SOURCE...';

export interface JsonEnvironment {
  stdout(text: string): void;
  stderr(text: string): void;
  /** The machine (loaded on demand); failing to load means block devices and backends are reported as unavailable. */
  loadMachine(): Promise<Machine>;
}

export interface JsonDocument {
  sources: SourceReport[];
}

/** Loop state read once per run: a batch of images should not rescan sysfs per image. */
function memoized(machine: Machine): Machine {
  let loops: ReturnType<Machine['loop']['scan']> | undefined;
  let next: number | undefined;
  const loop: Machine['loop'] = {
    ...machine.loop,
    scan: () => {
      loops ??= machine.loop.scan();
      return loops;
    },
    nextFreeIndex: () => {
      next ??= machine.loop.nextFreeIndex();
      return next;
    },
  };
  // Everything else is the machine's own (a view over it, so its methods and getters still apply).
  return Object.assign(Object.create(machine) as Machine, { loop });
}

export async function jsonMain(args: string[], environment: Partial<JsonEnvironment> = {}): Promise<number> {
  const io: JsonEnvironment = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    loadMachine: async () => (await import('../kernel/machine.js')).createMachine(),
    ...environment,
  };
  // Messages quote options as typed: controls in them are shown as escapes, not obeyed.
  const stderr = (text: string) => io.stderr(displayLines(text));
  const parsed = getopt(
    args.filter((arg) => arg !== '--json'),
    {
      program: 'kpartx-tui',
      shortOptions: 'p:t:gr',
      longOptions: [
        { name: 'backend', hasArg: true, key: 'backend' },
        { name: 'no-probe', hasArg: false, key: 'no-probe' },
      ],
    },
  );
  if (!parsed.ok) {
    stderr(`${parsed.message}\n${JSON_USAGE}\n`);
    return 1;
  }
  let delimiter: string | undefined;
  let only: string | undefined;
  let forceGpt = false;
  let readOnly = false;
  let probe = true;
  let backendKind: BackendKind | undefined;
  for (const { key, arg } of parsed.options) {
    if (key === 'p') delimiter = arg ?? '';
    else if (key === 't') only = arg ?? '';
    else if (key === 'g') forceGpt = true;
    else if (key === 'r') readOnly = true;
    else if (key === 'no-probe') probe = false;
    else if (key === 'backend') {
      if (arg !== 'dm' && arg !== 'loop') {
        stderr(`kpartx-tui: invalid backend '${arg}': use dm or loop\n`);
        return 1;
      }
      backendKind = arg;
    }
  }
  if (parsed.operands.length === 0) {
    stderr(`${JSON_USAGE}\n`);
    return 1;
  }

  let kernel: Machine | undefined;
  try {
    kernel = await io.loadMachine();
  } catch {
    kernel = undefined;
  }
  if (!kernel) {
    stderr('kpartx-tui: cannot reach the machine\n');
    return 1;
  }
  const host = memoized(kernel);
  const decision = decideBackend(kernel, backendKind, host);
  let backend: MapBackend | undefined;
  if (kernel && decision.backend) {
    try {
      backend = await loadBackend(decision.backend, kernel);
    } catch {
      backend = undefined;
    }
  }

  const options = { delimiter, only, forceGpt, readOnly, probe, backendKind };
  // Several sources are read together: a VG whose PVs lie on different images is assembled whole.
  const sources = inspectSources(parsed.operands, kernel, {
    ...options,
    host,
    backend,
    backendDecision: decision,
  });
  const document: JsonDocument = { sources };
  io.stdout(`${JSON.stringify(document, null, 2)}\n`);
  return sources.some((report) => report.error !== null) ? 1 : 0;
}
