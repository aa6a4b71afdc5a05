/** Shared by the CLI tests: run main() in-process with captured streams, and build small MBR images. */
import { main } from '../src/cli/kpartx.js';
import type { BackendKind, MapBackend } from '../src/engine/backend.js';
import { createDmBackend } from '../src/engine/backends/dm.js';
import { createLoopBackend } from '../src/engine/backends/loop.js';
import type { Machine } from '../src/engine/machine.js';

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** The backend of a kind over the given machine, made at once (no lazy import). */
export function fakeBackend(kind: BackendKind, machine: Machine): MapBackend {
  if (kind === 'dm') return createDmBackend(machine);
  return createLoopBackend(machine);
}

export async function runCli(
  args: string[],
  options: {
    /** The machine to run on (a FakeMachine); the real one when absent. */
    kernel?: Machine;
    env?: Record<string, string | undefined>;
    argv0?: string;
    /** Use the production backends (real /dev/mapper nodes) instead of the test ones. */
    realBackends?: boolean;
  } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const status = await main([options.argv0 ?? 'kpartx', ...args], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: options.env ?? {},
    ...(options.kernel ? { machine: options.kernel } : {}),
    ...(options.realBackends ? {} : { makeBackend: fakeBackend }),
  });
  return { status, stdout, stderr };
}

/** A disk of `sectors` 512-byte sectors with an MBR holding `entries` of [type, start, count]. */
export function mbrImage(sectors: number, entries: [number, number, number][]): Uint8Array {
  const bytes = new Uint8Array(sectors * 512);
  const view = new DataView(bytes.buffer);
  entries.forEach(([type, start, count], i) => {
    const at = 446 + i * 16;
    bytes[at + 4] = type;
    view.setUint32(at + 8, start, true);
    view.setUint32(at + 12, count, true);
  });
  bytes[510] = 0x55;
  bytes[511] = 0xaa;
  return bytes;
}

/** T01 of the reference: four primaries on 64 MiB. */
export const t01 = (): Uint8Array =>
  mbrImage(131072, [
    [0x83, 2048, 16384],
    [0x83, 18432, 16384],
    [0x83, 34816, 16384],
    [0x83, 51200, 79872],
  ]);

export const T01_LINES = [
  'loop0p1 : 0 16384 /dev/loop0 2048',
  'loop0p2 : 0 16384 /dev/loop0 18432',
  'loop0p3 : 0 16384 /dev/loop0 34816',
  'loop0p4 : 0 79872 /dev/loop0 51200',
];
