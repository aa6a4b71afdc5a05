/**
 * The real kpartx-tui binary in a real terminal (tmux) on real loop devices: what every end-to-end
 * app test needs. Why a test cannot run, a tmux pane to drive and read, and the loops, /dev/mapper
 * links and mounts an image's run made, to check that nothing is left and to clear up after a
 * failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..', '..');
/** The app's binary, as users start it. */
export const KPARTX_TUI_BIN = join(repo, 'bin', 'kpartx-tui.js');

const hasTool = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** Why the app cannot be run end to end here ('' when it can): root, loops, tmux, `tools`, a build. */
export function appSkipReason(tools: string[] = []): string {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/dev/loop-control')) return 'needs /dev/loop-control';
  if (spawnSync('tmux', ['-V']).status !== 0) return 'needs tmux';
  const missing = tools.filter((tool) => !hasTool(tool));
  if (missing.length > 0) return `needs ${missing.join(', ')}`;
  if (!existsSync(join(repo, 'dist', 'tui', 'main.js')))
    return 'needs `npm run build` first (dist/tui/main.js)';
  return '';
}

/** How a pane is started: its size, directory and environment beyond the app's usual two. */
export interface PaneStart {
  cwd: string;
  columns?: number;
  rows?: number;
  /** Variables besides CI=false (Ink draws every frame) and TERM=xterm-256color. */
  env?: Record<string, string>;
}

export interface TmuxPane {
  /** A tmux command on this pane's server. */
  tmux(...args: string[]): string;
  /** Start the session running `command` (shell text) in a pane of the given size. */
  start(command: string, how: PaneStart): void;
  /** The pane's text as shown now. */
  screen(): string;
  /** Wait until the screen shows `text`; the error carries the last screen. */
  waitForScreen(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Send a key, then wait for `expected`. */
  key(k: string, expected: string | RegExp): Promise<string>;
  /** Send a key whose effect has no text of its own: wait for the screen to change and settle. */
  press(k: string): Promise<string>;
  /** End the session (and the server when it is the pane's own). */
  kill(): void;
}

/**
 * Session `session` on the default tmux server, or on a server of its own (`server`: its settings
 * and paste buffers are the test's alone).
 */
export function tmuxPane(session: string, server?: string): TmuxPane {
  const prefix = server ? ['-L', server, '-f', '/dev/null'] : [];
  const tmux = (...args: string[]) => execFileSync('tmux', [...prefix, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-t', session, '-p');
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function waitForScreen(text: string | RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = screen();
      if (typeof text === 'string' ? last.includes(text) : text.test(last)) return last;
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${text}; screen was:\n${last}`);
  }
  return {
    tmux,
    start(command, { cwd, columns = 100, rows = 30, env = {} }) {
      const vars = { CI: 'false', TERM: 'xterm-256color', ...env };
      tmux(
        'new-session',
        '-d',
        '-s',
        session,
        '-x',
        String(columns),
        '-y',
        String(rows),
        '-c',
        cwd,
        ...Object.entries(vars).flatMap(([name, value]) => ['-e', `${name}=${value}`]),
        command,
      );
    },
    screen,
    waitForScreen,
    key(k, expected) {
      tmux('send-keys', '-t', session, k);
      return waitForScreen(expected);
    },
    async press(k) {
      const before = screen();
      tmux('send-keys', '-t', session, k);
      const deadline = Date.now() + 10_000;
      while (screen() === before && Date.now() < deadline) await sleep(50);
      await sleep(200);
      return screen();
    },
    kill() {
      spawnSync('tmux', [
        ...prefix,
        server ? 'kill-server' : 'kill-session',
        ...(server ? [] : ['-t', session]),
      ]);
    },
  };
}

/** The file a loop reads, as sysfs gives it (only its final newline removed: names may hold anything). */
function backingFile(name: string): string {
  try {
    return readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').replace(/\n$/, '');
  } catch {
    return '';
  }
}

/** The loops bound to `image`, then the partition loops over them (detach in reverse order). */
export function loopsOfImage(image: string): string[] {
  const bound = readdirSync('/sys/block').filter((name) => name.startsWith('loop'));
  const parents = bound.filter((name) => backingFile(name) === image);
  return [...parents, ...bound.filter((name) => parents.some((p) => backingFile(name) === `/dev/${p}`))];
}

/** /dev/mapper links (the loop backend's) to one of `loops` (other runs may reuse loop names). */
export function mapLinksTo(loops: string[]): string[] {
  if (!existsSync('/dev/mapper')) return [];
  return readdirSync('/dev/mapper').filter((entry) => {
    try {
      return loops.includes(readlinkSync(`/dev/mapper/${entry}`).replace(/^.*\//, ''));
    } catch {
      return false;
    }
  });
}

/** Mountpoints of filesystems on one of `loops` (or a map named after one). */
export function mountsOfLoops(loops: string[]): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((line) => loops.some((l) => line.startsWith(`/dev/${l} `) || line.includes(`/${l} `)))
    .map((line) => line.split(' ')[1] ?? '');
}

/** Mountpoints below `path`. */
export const mountsUnder = (path: string): string[] =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((target) => target.startsWith(`${path}/`));
