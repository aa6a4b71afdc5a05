/**
 * Signals and leaving, on the real binaries: the same scenarios run here on loop devices
 * (test/cli-interrupt.test.ts, test/tui-signals-e2e.test.ts) and on device-mapper in the guest
 * (test/dm/signals.dmtest.ts). Each run is signalled right after its first map appears, then what
 * the image has left on the system (loops, maps, /dev/mapper entries, mounts) must be nothing, and
 * the exit status the signal's. The app runs in tmux, under a recorder that keeps its exit status
 * when the terminal is closed under it.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { displayLines } from '../src/io/display-text.js';
import {
  type HeldSignal,
  image128,
  KPARTX,
  KPARTX_TUI,
  leftOf,
  mapCount,
  NOTHING_LEFT,
  runKpartx,
  SIGNAL_STATUS,
  whenMapper,
} from './interrupt-helpers.js';
import { buildImage, helloText } from './loop-helpers.js';

export const hasTmux = spawnSync('tmux', ['-V']).status === 0;

/** Clears whatever a failed scenario left of the images in `dir` (the tests' own tools, not ours). */
function sweep(images: string[]): void {
  for (const image of images) {
    const left = leftOf(image);
    for (const mountpoint of left.mounts) {
      spawnSync('umount', ['-l', mountpoint]);
      // The app's own mountpoints go with their mounts.
      if (mountpoint.startsWith('/run/kpartx-tui/mnt/')) spawnSync('rmdir', [mountpoint]);
    }
    if (left.maps.length > 0) spawnSync('dmsetup', ['remove', '--force', ...left.maps]);
    for (const entry of left.mapper) rmSync(join('/dev/mapper', entry), { force: true });
    // Partition loops first (they hold the image's loop), then the image's.
    for (const loop of [...left.loops].reverse()) spawnSync('losetup', ['-d', `/dev/${loop}`]);
  }
}

/** The built kpartx on a 128-partition image: -a taken back whole, -d run to its end and said so. */
export function cliSignalScenarios(timeoutMs: number): void {
  let dir = '';
  let image = '';
  const terminals: AppInTmux[] = [];

  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'kpartx-cli-sig-')));
    image = image128(dir);
  });

  afterAll(() => {
    for (const run of terminals) run.close();
    if (image) sweep([image]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [signal, status] of Object.entries(SIGNAL_STATUS) as [HeldSignal, number][]) {
    it(
      `-a and ${signal} after the first map: every map and the image's loop are gone, exit ${status}`,
      async () => {
        const first = whenMapper(() => mapCount(image) > 0);
        const run = runKpartx(['-av', image]);
        await first.reached;
        run.child.kill(signal);
        const { code } = await run.exited;
        expect(leftOf(image)).toEqual(NOTHING_LEFT);
        expect(code).toBe(status);
        const stderr = run.stderr();
        expect(stderr).toMatch(/interrupted before loop\d+p\d+; removing the maps this run made/);
        expect(stderr).toContain(
          `kpartx: interrupted by ${signal}; the add was rolled back: nothing it made is left\n`,
        );
        // The loop is released once, by the rollback; never a second time, failing.
        expect(stderr.match(/^loop deleted : /gm)).toHaveLength(1);
        expect(stderr).not.toContain("can't del loop");
        expect(run.stdout().match(/^add map /gm)?.length ?? 0).toBeLessThan(128);
      },
      timeoutMs,
    );
  }

  it(
    '-d and SIGTERM after its first removal: it runs to its end and says what it removed',
    async () => {
      const add = runKpartx(['-a', image]);
      expect((await add.exited).code).toBe(0);
      expect(mapCount(image)).toBe(128);
      const first = whenMapper(() => mapCount(image) < 128);
      const run = runKpartx(['-dv', image]);
      await first.reached;
      run.child.kill('SIGTERM');
      const { code } = await run.exited;
      expect(leftOf(image)).toEqual(NOTHING_LEFT);
      expect(code).toBe(143);
      expect(run.stdout().match(/^del devmap : /gm)).toHaveLength(128);
      expect(run.stderr()).toMatch(
        /^kpartx: interrupted by SIGTERM; the delete ran to its end first: removed 128 maps \(loop\d+p1 … loop\d+p128\), kept none; \/dev\/loop\d+ released$/m,
      );
      expect(run.stderr()).not.toContain('undone');
    },
    timeoutMs,
  );

  it.runIf(hasTmux)(
    '-a in a terminal that closes after the first map (an SSH session dropped): taken back whole, exit 129',
    async () => {
      const first = whenMapper(() => mapCount(image) > 0, timeoutMs);
      // Its messages go to the terminal that is gone: writing them fails, the take-back must not.
      const run = new AppInTmux(dir, image, 'job', {
        command: [process.execPath, KPARTX, '-av', image],
        stderrOnTerminal: true,
      });
      terminals.push(run);
      await first.reached;
      run.killServer();
      const status = await run.status(timeoutMs);
      expect(leftOf(image)).toEqual(NOTHING_LEFT);
      expect(status).toEqual({ code: 129, signal: null });
    },
    timeoutMs,
  );
}

type RecorderMode = 'job' | 'detached';

let runs = 0;

/**
 * A command (the app, unless told) on its own tmux server, so closing that terminal touches
 * nothing else, under the recorder of its exit status.
 */
class AppInTmux {
  private readonly socket = `kpartx-sig-${process.pid}-${++runs}`;
  private readonly serverPid: number;
  /** tmux leaves its socket behind when its server is signalled. */
  private readonly socketPath: string;
  readonly runDir: string;

  constructor(
    cwd: string,
    path: string,
    mode: RecorderMode,
    options: { command?: string[]; stderrOnTerminal?: boolean } = {},
  ) {
    this.runDir = join(cwd, `run-${runs}`);
    mkdirSync(this.runDir);
    const recorder = join(import.meta.dirname, 'app-exit-recorder.mjs');
    const program = options.command ?? [process.execPath, KPARTX_TUI, path];
    const command = [process.execPath, recorder, this.runDir, mode, ...program];
    this.tmux(
      'new-session',
      '-d',
      '-x',
      '100',
      '-y',
      '30',
      '-c',
      cwd,
      '-e',
      'CI=false',
      '-e',
      'TERM=xterm-256color',
      '-e',
      `KEEP_STDERR=${options.stderrOnTerminal ? 1 : 0}`,
      command.map((word) => `'${word}'`).join(' '),
    );
    // Everything the pane receives from here on, for the error of a wait that fails: the screen
    // alone does not say how a frame came to be drawn wrong.
    this.tmux('pipe-pane', '-o', `cat >> '${join(this.runDir, 'terminal.raw')}'`);
    const [pid, socketPath] = this.tmux('display-message', '-p', '#{pid} #{socket_path}').trim().split(' ');
    this.serverPid = Number(pid);
    this.socketPath = socketPath ?? '';
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  /** The pane, wrapped lines joined. */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-J');
  }

  /**
   * Polls the pane: each look starts a tmux client, which on an emulated CPU costs enough to
   * starve the app, so looks are spaced by the time allowed.
   */
  async waitFor(text: string | RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const interval = Math.max(50, timeoutMs / 200);
    let last = '';
    while (Date.now() < deadline) {
      last = this.screen();
      if (typeof text === 'string' ? last.includes(text) : text.test(last)) return last;
      await new Promise((r) => setTimeout(r, interval));
    }
    throw new Error(
      `timed out waiting for ${text}; screen was:\n${last}\n${this.rawTail()}\n${this.processState()}`,
    );
  }

  /** The end of what the pane received, control bytes escaped (\x1b for ESC), one line per line. */
  private rawTail(chars = 8000): string {
    try {
      const raw = readFileSync(join(this.runDir, 'terminal.raw'), 'latin1');
      const shown = displayLines(raw.slice(-chars));
      return `the pane received (${raw.length} bytes, the last ${Math.min(chars, raw.length)}):\n${shown}`;
    } catch {
      return '(no record of what the pane received)';
    }
  }

  /**
   * Where the app is: its state (running, sleeping, stopped by a signal), what it waits on in the
   * kernel, and the state of each of its threads, for a wait that fails with nothing drawn.
   */
  private processState(): string {
    const read = (file: string) => {
      try {
        return readFileSync(file, 'utf8').trim();
      } catch {
        return '?';
      }
    };
    let pid = 0;
    try {
      pid = this.pid();
    } catch {
      return 'the app: no pid recorded';
    }
    const status = read(`/proc/${pid}/status`);
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '?';
    let threads: string[] = [];
    try {
      threads = readdirSync(`/proc/${pid}/task`).map(
        (tid) => `${tid} ${read(`/proc/${pid}/task/${tid}/comm`)} ${read(`/proc/${pid}/task/${tid}/wchan`)}`,
      );
    } catch {
      threads = [];
    }
    const ended = read(join(this.runDir, 'status'));
    const stderr = read(join(this.runDir, 'stderr')).slice(-2000);
    return [
      `the app's exit: ${ended === '?' ? 'not yet' : ended}; its stderr: ${displayLines(stderr) || '(empty)'}`,
      `the app (pid ${pid}): ${field('State')}, waiting in ${read(`/proc/${pid}/wchan`)}, signals pending ${field('SigPnd')}/${field('ShdPnd')}`,
      `kernel stack:\n${read(`/proc/${pid}/stack`)}`,
      `threads (tid, name, wait): ${threads.join('; ')}`,
    ].join('\n');
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', ...keys);
  }

  pid(): number {
    return Number(readFileSync(join(this.runDir, 'pid'), 'utf8'));
  }

  stderr(): string {
    return readFileSync(join(this.runDir, 'stderr'), 'utf8');
  }

  async status(timeoutMs: number): Promise<{ code: number | null; signal: string | null }> {
    const file = join(this.runDir, 'status');
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(file)) {
      if (Date.now() > deadline) throw new Error(`the app did not end; screen was:\n${this.safeScreen()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return JSON.parse(readFileSync(file, 'utf8'));
  }

  private safeScreen(): string {
    try {
      return this.screen();
    } catch {
      return '(terminal gone)';
    }
  }

  /**
   * Closes the terminal: the tmux server goes, and with it the pty the command runs on. Signalled
   * from here rather than through a tmux client, so the hang-up lands at once, mid-run.
   */
  killServer(): void {
    if (this.serverPid) {
      try {
        process.kill(this.serverPid, 'SIGTERM');
      } catch {
        // gone already
      }
    }
    spawnSync('tmux', ['-L', this.socket, 'kill-server']);
  }

  /** After the test: the terminal goes, and an app that is somehow still running with it. */
  close(): void {
    let pid = 0;
    try {
      pid = this.pid();
    } catch {
      // never started
    }
    this.killServer();
    if (this.socketPath) rmSync(this.socketPath, { force: true });
    if (pid && !existsSync(join(this.runDir, 'status'))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

interface MidAdd {
  what: string;
  mode: RecorderMode;
  act: (app: AppInTmux) => void;
  signal: HeldSignal;
  /** Where the app's last words are: the restored terminal, or stderr when the terminal is gone. */
  report: 'screen' | 'stderr';
}

/** The tmux server killed under the app: its terminal hangs up, and the hang-up is passed on. */
export const TERMINAL_CLOSING: MidAdd = {
  what: 'the terminal closing (its hang-up passed on, as a shell does)',
  mode: 'job',
  act: (app) => app.killServer(),
  signal: 'SIGHUP',
  report: 'stderr',
};

export const MID_ADD: MidAdd[] = [
  { what: 'Ctrl-C', mode: 'job', act: (app) => app.keys('C-c'), signal: 'SIGINT', report: 'screen' },
  {
    what: 'SIGINT',
    mode: 'job',
    act: (app) => process.kill(app.pid(), 'SIGINT'),
    signal: 'SIGINT',
    report: 'screen',
  },
  {
    what: 'SIGTERM',
    mode: 'job',
    act: (app) => process.kill(app.pid(), 'SIGTERM'),
    signal: 'SIGTERM',
    report: 'screen',
  },
  {
    what: 'SIGHUP',
    mode: 'job',
    act: (app) => process.kill(app.pid(), 'SIGHUP'),
    signal: 'SIGHUP',
    report: 'screen',
  },
  TERMINAL_CLOSING,
  {
    what: 'the terminal closing under an app in a session of its own (no SIGHUP: reads end, writes fail)',
    mode: 'detached',
    act: (app) => app.killServer(),
    signal: 'SIGHUP',
    report: 'stderr',
  },
];

/** Ways of leaving the app with something still there. */
export type LeavingCase = 'with a map' | 'from a mount' | 'from a busy mount';
const LEAVING: LeavingCase[] = ['with a map', 'from a mount', 'from a busy mount'];

/**
 * The app adding the 128 maps of an image, interrupted right after the first one by each way out
 * in `cases`; and left (`leaving`) with a map, from a mount, and from a mount that will not go.
 */
export function appSignalScenarios(
  timeoutMs: number,
  cases: MidAdd[] = MID_ADD,
  leaving: LeavingCase[] = LEAVING,
): void {
  let dir = '';
  let image = '';
  let fsImage = '';
  const apps: AppInTmux[] = [];
  const holders: ChildProcess[] = [];
  const start = (path: string, mode: RecorderMode = 'job') => {
    const app = new AppInTmux(dir, path, mode);
    apps.push(app);
    return app;
  };

  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'kpartx-tui-sig-')));
    image = image128(dir);
    fsImage = buildImage(dir, 'fs.img', 'gpt', [
      { line: '2048,32768', ext4: { number: 1, start: 2048, sizeKiB: 16384 } },
    ]);
  });

  afterAll(() => {
    for (const holder of holders) holder.kill('SIGKILL');
    for (const app of apps) app.close();
    if (image) sweep([image, fsImage]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const c of cases) {
    it(
      `${c.what} during an add of 128 maps: the add is taken back whole, exit ${SIGNAL_STATUS[c.signal]}`,
      async () => {
        const app = start('big.img', c.mode);
        await app.waitFor('gpt table', timeoutMs);
        app.keys('a');
        await app.waitFor('Create 128 maps read-only?', timeoutMs);
        // Watched, not polled: the signal lands right after the first map, and nothing here
        // competes with the app for the CPU meanwhile.
        const first = whenMapper(() => mapCount(image) > 0);
        app.keys('y');
        await first.reached;
        c.act(app);
        const status = await app.status(timeoutMs);
        expect(leftOf(image)).toEqual(NOTHING_LEFT);
        expect(status).toEqual({ code: SIGNAL_STATUS[c.signal], signal: null });
        const said = `kpartx-tui: adding maps of big.img: interrupted by ${c.signal}; the add was rolled back: nothing it made is left`;
        if (c.report === 'screen') {
          const screen = app.screen();
          expect(screen).toContain(said);
          // The screen is the terminal's own again: the app's frame is gone with its alternate screen.
          expect(screen).not.toContain('Creating maps');
        } else {
          expect(app.stderr()).toContain(said);
        }
      },
      timeoutMs * 3,
    );
  }

  it.runIf(leaving.includes('with a map'))(
    'q with a map present says which map and loop stay, and the command it names removes them',
    async () => {
      const app = start('fs.img');
      await app.waitFor('gpt table', timeoutMs);
      app.keys('a');
      await app.waitFor('Create 1 map read-only?', timeoutMs);
      app.keys('y');
      await app.waitFor(/1 map\(s\) created and confirmed/, timeoutMs);
      app.keys('q');
      expect(await app.status(timeoutMs)).toEqual({ code: 0, signal: null });
      const screen = app.screen();
      expect(screen).toContain('kpartx-tui: still present after leaving:');
      expect(screen).toMatch(
        / {2}fs\.img: 1 map \(loop\d+p1(, a loop device)?\), loop device \/dev\/loop\d+/,
      );
      expect(screen).toContain('  to remove: kpartx -d fs.img');
      expect(mapCount(fsImage)).toBe(1);
      const remove = runKpartx(['-d', 'fs.img'], { cwd: dir });
      expect((await remove.exited).code).toBe(0);
      expect(leftOf(fsImage)).toEqual(NOTHING_LEFT);
    },
    timeoutMs * 3,
  );

  /** Add fs.img's one map, mount it read-only in the app, and return the mountpoint. */
  async function mountInApp(app: AppInTmux): Promise<string> {
    await app.waitFor('gpt table', timeoutMs);
    app.keys('a');
    await app.waitFor('Create 1 map read-only?', timeoutMs);
    app.keys('y');
    await app.waitFor(/1 map\(s\) created and confirmed/, timeoutMs);
    app.keys('Enter');
    await app.waitFor(/● 1 /, timeoutMs);
    app.keys('m');
    await app.waitFor('Mount read-only: yes', timeoutMs);
    app.keys('Enter');
    const mounted = await app.waitFor(
      /Mounted \/dev\/mapper\/loop\d+p1 \(ext4, read-only, noexec\)/,
      timeoutMs,
    );
    const mountpoint = /on (\/\S+)/.exec(mounted)?.[1] ?? '';
    expect(readFileSync(join(mountpoint, 'hello.txt'), 'utf8')).toBe(helloText('fs.img', 1));
    return mountpoint;
  }

  it.runIf(leaving.includes('from a mount'))(
    'q in the mount session unmounts, says so, and says which map and loop stay',
    async () => {
      const app = start('fs.img');
      const mountpoint = await mountInApp(app);
      app.keys('q');
      expect(await app.status(timeoutMs)).toEqual({ code: 0, signal: null });
      const screen = app.screen();
      expect(screen).toMatch(
        new RegExp(`kpartx-tui: unmounted /dev/mapper/loop\\d+p1 from ${mountpoint.replaceAll('/', '\\/')}`),
      );
      expect(screen).toMatch(
        / {2}fs\.img: 1 map \(loop\d+p1(, a loop device)?\), loop device \/dev\/loop\d+/,
      );
      expect(leftOf(fsImage).mounts).toEqual([]);
      expect(existsSync(mountpoint)).toBe(false);
      const remove = runKpartx(['-d', 'fs.img'], { cwd: dir });
      expect((await remove.exited).code).toBe(0);
      expect(leftOf(fsImage)).toEqual(NOTHING_LEFT);
    },
    timeoutMs * 3,
  );

  it.runIf(leaving.includes('from a busy mount'))(
    'a mount that cannot be unmounted on the way out is an error: exit 1, and the mount is named as staying',
    async () => {
      const app = start('fs.img');
      const mountpoint = await mountInApp(app);
      // A program elsewhere sits in the mountpoint, as a forgotten shell would.
      const holder = spawn('sleep', ['600'], { cwd: mountpoint, stdio: 'ignore' });
      holders.push(holder);
      app.keys('q');
      expect(await app.status(timeoutMs)).toEqual({ code: 1, signal: null });
      const screen = app.screen();
      expect(screen).toContain(`kpartx-tui: cannot unmount ${mountpoint}: `);
      expect(screen).toMatch(new RegExp(`loop\\d+p1 is mounted on ${mountpoint.replaceAll('/', '\\/')}`));
      expect(screen).toContain(`  to remove: umount ${mountpoint} && kpartx -d fs.img`);
      expect(leftOf(fsImage).mounts).toHaveLength(1);
      holder.kill('SIGKILL');
      await new Promise((done) => holder.once('exit', done));
      execFileSync('umount', [mountpoint]);
      rmdirSync(mountpoint);
      const remove = runKpartx(['-d', 'fs.img'], { cwd: dir });
      expect((await remove.exited).code).toBe(0);
      expect(leftOf(fsImage)).toEqual(NOTHING_LEFT);
    },
    timeoutMs * 3,
  );
}
