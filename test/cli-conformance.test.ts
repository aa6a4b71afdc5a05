/**
 * Our `kpartx -l` against the C kpartx: every recorded run in fixtures/ and in the util-linux
 * corpus, stdout byte for byte, stderr line for line and the exit status, plus live runs of
 * /usr/sbin/kpartx on images made with sfdisk where that tool is installed.
 *
 * Documented difference: we add a `warning: …` stderr line for each partition past the end of the
 * device (the C tool is silent); those lines are checked separately and not compared.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { corpusDir, fixtureDir, hasCorpus, recordings, xzImage } from '../fixtures/dos-gpt.js';
import { runCli } from './cli-helpers.js';
import { FakeMachine } from './support/fake-machine.js';

const labelsDir = join(fixtureDir, '..', 'labels');
const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');
const normalize = (text: string): string[] => lines(text).map((l) => l.replace(/\bloop\d+/g, 'LOOP'));
const PAST_END = /^warning: \S+: partition \d+ \(sectors \d+-\d+\) ends past the end of \S+ \(\d+ sectors\)$/;

interface Case {
  name: string;
  imagePath: string;
  sectorSize: number;
  options: string[];
  stdout: string[];
  /** undefined when the recording has no stderr. */
  stderr?: string[];
  exit: number;
}

function parseRecorded(stdoutFile: string): { stdout: string[]; exit: number } {
  const out = lines(readFileSync(stdoutFile, 'utf8'));
  const exit = Number((out.pop() ?? 'exit=').replace('exit=', ''));
  return { stdout: out, exit };
}

function dosGptCases(): Case[] {
  return recordings().map((r) => ({
    name: `fixtures/dos-gpt ${r.label}`,
    imagePath: join(fixtureDir, `${r.image}.xz`),
    sectorSize: r.sectorSize,
    options: r.options,
    stdout: r.stdout,
    stderr: r.stderr,
    exit: r.exit,
  }));
}

function labelCases(): Case[] {
  if (!existsSync(labelsDir)) return [];
  return readdirSync(labelsDir)
    .filter((file) => file.endsWith('.kpartx-l'))
    .map((file) => {
      const name = file.slice(0, -'.kpartx-l'.length);
      const match = /^([^@+]+)(?:@(\d+)|\+(.+))?$/.exec(name)!;
      const suffix = match[3];
      const options = suffix === undefined ? [] : suffix === 'g' ? ['-g'] : ['-t', suffix.replace(/^t-/, '')];
      const stderrFile = join(labelsDir, `${name}.kpartx-l.stderr`);
      return {
        name: `fixtures/labels ${name}`,
        imagePath: join(labelsDir, `${match[1]}.img.xz`),
        sectorSize: match[2] ? Number(match[2]) : 512,
        options,
        ...parseRecorded(join(labelsDir, file)),
        stderr: existsSync(stderrFile) ? lines(readFileSync(stderrFile, 'utf8')) : undefined,
      };
    });
}

function corpusCases(): Case[] {
  if (!hasCorpus) return [];
  const expected = join(corpusDir, 'expected');
  return readdirSync(join(corpusDir, 'pt'))
    .filter((file) => file.endsWith('.img.xz'))
    .map((file) => file.slice(0, -'.img.xz'.length))
    .filter((name) => existsSync(join(expected, `${name}.kpartx-l`)))
    .map((name) => ({
      name: `corpus ${name}`,
      imagePath: join(corpusDir, 'pt', `${name}.img.xz`),
      sectorSize: 512,
      options: [],
      ...parseRecorded(join(expected, `${name}.kpartx-l`)),
    }));
}

/** Run our -l the way the recording ran the C tool: on the image, or on a 4096-byte-sector loop. */
async function runOurs(c: Case) {
  const kernel = new FakeMachine();
  const file = `/fixtures/${c.name.replace(/\W+/g, '_')}.img`;
  kernel.addFile(file, xzImage(c.imagePath));
  let operand = file;
  if (c.sectorSize !== 512) {
    operand = kernel.loop.attach(file, { readOnly: true, blockSize: c.sectorSize }).path;
  }
  return runCli(['-l', ...c.options, operand], { kernel });
}

/**
 * Where the table readers deliberately do not follow the C tool (asserted in detail by the reader
 * tests): the listing is compared only for its exit status here.
 */
const DELIBERATE: Record<string, string> = {
  'fixtures/dos-gpt t25a': 'B5: an EBR cycle stops at the first repeated EBR',
  'fixtures/dos-gpt t25d': 'B12: an invalid boot indicator means sector 0 is not an MBR',
  'fixtures/dos-gpt fat16': 'B12: a FAT boot sector is not an empty MBR',
  'fixtures/dos-gpt fat32': 'B12: a FAT boot sector is not an empty MBR',
  'fixtures/dos-gpt exfat': 'B12: an exFAT boot sector is not an empty MBR',
  'fixtures/dos-gpt ntfs': 'B12: an NTFS boot sector is not an empty MBR',
  'fixtures/labels solaris-ondisk': 'B7: real on-disk Solaris VTOCs are listed',
  'fixtures/labels solaris-ondisk@4096': 'B7: real on-disk Solaris VTOCs are listed',
};

const cases = [...dosGptCases(), ...labelCases(), ...corpusCases()];

describe('kpartx -l matches every recorded C run', () => {
  it('has recordings to compare with', () => {
    expect(dosGptCases().length).toBeGreaterThan(10);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const run = await runOurs(c);
    expect(run.status).toBe(c.exit);
    if (DELIBERATE[c.name]) return;
    expect(normalize(run.stdout)).toEqual(c.stdout);
    const stderr = normalize(run.stderr);
    const ours = stderr.filter((line) => !PAST_END.test(line));
    if (c.stderr) expect(ours).toEqual(c.stderr);
    // Our extra warnings only ever name partitions that really end past the device.
    for (const warning of stderr.filter((line) => PAST_END.test(line))) {
      const [, first, last, size] = /sectors (\d+)-(\d+)\).*\((\d+) sectors\)/.exec(warning)!.map(Number);
      expect(last! + 1).toBeGreaterThan(size!);
      expect(first).toBeGreaterThanOrEqual(0);
    }
  });
});

// ---- live comparison with the installed C tool -------------------------------------------------

const C_KPARTX = '/usr/sbin/kpartx';
const canRunC =
  existsSync(C_KPARTX) &&
  existsSync('/dev/loop-control') &&
  process.getuid?.() === 0 &&
  spawnSync('sfdisk', ['--version']).status === 0;
const DM_NOISE = [
  /^\/dev\/mapper\/control: open failed/,
  /^Failure to communicate with kernel device-mapper driver\./,
  /^Check that device-mapper is available in the kernel\./,
  /^Incompatible libdevmapper /,
];

function runC(args: string[]) {
  // argv0 `kpartx`: glibc names the program by argv[0] as typed, ours by its base name.
  const r = spawnSync(C_KPARTX, args, { encoding: 'utf8', argv0: 'kpartx' });
  const strip = (text: string) => lines(text).filter((line) => !DM_NOISE.some((re) => re.test(line)));
  return { status: r.status, stdout: lines(r.stdout), stderr: strip(r.stderr) };
}

const hostHasDm = (() => {
  try {
    return /^\s*\d+\s+device-mapper$/m.test(readFileSync('/proc/misc', 'utf8'));
  } catch {
    return false;
  }
})();

describe.skipIf(!canRunC)(
  'kpartx -l next to the C kpartx on this machine (needs root, loop devices, sfdisk)',
  () => {
    const work = canRunC ? mkdtempSync(join(tmpdir(), 'kpartx-live-')) : '';
    afterAll(() => {
      if (work) rmSync(work, { recursive: true, force: true });
    });

    const make = (name: string, size: number, script: string): string => {
      const path = join(work, name);
      writeFileSync(path, '');
      execFileSync('truncate', ['-s', String(size), path]);
      if (script) execFileSync('sfdisk', ['-q', path], { input: script });
      return path;
    };

    async function compare(args: string[]) {
      const c = runC(args);
      const ours = await runCli(args);
      // Without device-mapper the C tool's stderr carries libdevmapper's complaints (stripped from
      // its side); ours says instead, with -v, which backend -a would use.
      const note = /^backend: loop \(no device-mapper in this kernel\)/;
      const ourErr = lines(ours.stderr);
      if (args.some((a) => /^-\w*v/.test(a)) && !hostHasDm)
        expect(ourErr.filter((l) => note.test(l))).toHaveLength(1);
      const stderr = ourErr.filter((l) => !note.test(l));
      expect({ status: ours.status, stdout: lines(ours.stdout), stderr }).toEqual(c);
    }

    it('lists primaries, logicals, gaps and GPT like the C tool', async () => {
      const images = [
        make('t01.img', 64 << 20, 'label: dos\n,8M\n,8M\n,8M\n,\n'),
        make('t02.img', 64 << 20, 'label: dos\n,8M,83\n,,5\n,8M,83\n,8M,83\n,,83\n'),
        make(
          't03.img',
          64 << 20,
          'label: dos\nstart=2048, size=16384, type=83\nstart=34816, size=16384, type=83\n',
        ),
        make('gpt.img', 64 << 20, 'label: gpt\n,8M\n,8M,S\n,\n'),
        make('empty.img', 16 << 20, ''),
      ];
      for (const image of images) {
        await compare(['-l', image]);
        await compare(['-lv', image]);
        await compare([image, '-l', '-p', '-part']);
      }
    });

    it('fails like the C tool on bad operands', async () => {
      await compare(['-l', join(work, 'missing.img')]);
      await compare(['-l', work]);
      await compare(['-l', '/dev/null']);
    });

    it('prints the same usage apart from the version line', async () => {
      const image = make('u.img', 1 << 20, '');
      const c = runC(['-x', image]);
      const ours = await runCli(['-x', image]);
      expect(ours.status).toBe(c.status);
      expect(lines(ours.stdout).slice(1)).toEqual(c.stdout.slice(1));
      expect(lines(ours.stderr)).toEqual(c.stderr);
    });
  },
);
