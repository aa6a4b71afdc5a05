/**
 * Shared by the tests that signal the real binaries mid-run (loop devices here, device-mapper in
 * the guest): a 128-partition image, runs of the built commands, the moment the first map appears,
 * and what an image has left on the system.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, watch } from 'node:fs';
import { join, resolve } from 'node:path';

export const repo = resolve(import.meta.dirname, '..');
export const KPARTX = join(repo, 'bin', 'kpartx.js');
export const KPARTX_TUI = join(repo, 'bin', 'kpartx-tui.js');
export const built =
  existsSync(join(repo, 'dist', 'cli', 'kpartx.js')) && existsSync(join(repo, 'dist', 'tui', 'main.js'));

/** The signals a run must survive whole, with the exit status each one gives. */
export const SIGNAL_STATUS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
export type HeldSignal = keyof typeof SIGNAL_STATUS;

/** fixtures/dos-gpt/t05: a GPT with 128 partitions of 64 sectors (16 MiB), copied into `dir`. */
export function image128(dir: string, name = 'big.img'): string {
  const file = join(dir, name);
  execFileSync('sh', ['-c', `xz -dc '${join(repo, 'fixtures/dos-gpt/t05.img.xz')}' > '${file}'`]);
  return file;
}

const backingFile = (name: string): string => {
  try {
    return readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
  } catch {
    return '';
  }
};

/** The image's loop devices (`loop3`), and the loops stacked on them (the loop backend's maps). */
export function loopsOf(image: string): { parents: string[]; partitions: string[] } {
  const loops = readdirSync('/sys/block').filter((name) => name.startsWith('loop'));
  const parents = loops.filter((name) => backingFile(name) === image);
  const partitions = loops.filter((name) => parents.some((p) => backingFile(name) === `/dev/${p}`));
  return { parents, partitions };
}

/** Device-mapper maps sitting on one of `loops`: kernel name (`dm-3`) and dm name. */
function dmMapsOver(loops: string[]): { kernel: string; name: string }[] {
  const found: { kernel: string; name: string }[] = [];
  for (const loop of loops) {
    let holders: string[] = [];
    try {
      holders = readdirSync(`/sys/block/${loop}/holders`);
    } catch {
      continue;
    }
    for (const holder of holders) {
      try {
        found.push({ kernel: holder, name: readFileSync(`/sys/block/${holder}/dm/name`, 'utf8').trim() });
      } catch {
        // not a dm device
      }
    }
  }
  return found;
}

/** /dev/mapper entries that lead to one of `loops` (links) or name one of `maps` (dm nodes). */
function mapperEntries(loops: string[], maps: string[]): string[] {
  if (!existsSync('/dev/mapper')) return [];
  return readdirSync('/dev/mapper').filter((entry) => {
    if (maps.includes(entry)) return true;
    try {
      return loops.includes(resolve('/dev/mapper', readlinkSync(join('/dev/mapper', entry))).slice(5));
    } catch {
      return false;
    }
  });
}

/** Mountpoints of these block devices (kernel names), found by device number. */
function mountsOf(devices: string[]): string[] {
  const numbers = new Set(
    devices.flatMap((name) => {
      try {
        return [readFileSync(`/sys/block/${name}/dev`, 'utf8').trim()];
      } catch {
        return [];
      }
    }),
  );
  // mountinfo: id parent MAJ:MIN root mountpoint ...
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => numbers.has(fields[2] ?? ''))
    .map((fields) => fields[4]!);
}

/** Everything an image has on the system now: loops, partition loops, dm maps, /dev/mapper entries, mounts. */
export function leftOf(image: string) {
  const { parents, partitions } = loopsOf(image);
  const maps = dmMapsOver(parents);
  return {
    loops: [...parents, ...partitions],
    maps: maps.map((map) => map.name),
    mapper: mapperEntries(
      partitions,
      maps.map((map) => map.name),
    ),
    mounts: mountsOf([...parents, ...partitions, ...maps.map((map) => map.kernel)]),
  };
}

export const NOTHING_LEFT = { loops: [], maps: [], mapper: [], mounts: [] };

/** How many partition maps the image has: loops stacked on its loop, or dm maps on it. */
export function mapCount(image: string): number {
  const { parents, partitions } = loopsOf(image);
  return partitions.length + dmMapsOver(parents).length;
}

/**
 * Resolves at the first change in /dev/mapper (where both backends put their entries) after which
 * `condition` holds, so a signal lands right after a run's first map, long before its end. Entries
 * other runs on the machine make are told apart by `condition`, which asks sysfs.
 */
export function whenMapper(condition: () => boolean, timeoutMs = 120_000): { reached: Promise<void> } {
  const reached = new Promise<void>((done, fail) => {
    const timer = setTimeout(() => {
      watcher.close();
      fail(new Error(`/dev/mapper never showed what was awaited in ${timeoutMs} ms`));
    }, timeoutMs);
    const watcher = watch('/dev/mapper', () => {
      if (!condition()) return;
      clearTimeout(timer);
      watcher.close();
      done();
    });
  });
  return { reached };
}

export interface Run {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout: () => string;
  stderr: () => string;
}

/** The built `kpartx` with these arguments, its output collected. */
export function runKpartx(args: string[], options: { cwd?: string } = {}): Run {
  const child = spawn(process.execPath, [KPARTX, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  );
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}
