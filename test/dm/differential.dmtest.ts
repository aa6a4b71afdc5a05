/**
 * The C kpartx and ours, in the same guest, on the same images: every step's stdout, stderr and
 * exit status, and what is left afterwards (tables, UUIDs, /dev/mapper nodes, loop devices), must
 * be identical except for the differences listed in differences.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Field, isKnown } from './differences.js';
import {
  fixtureImage,
  type GuestState,
  guestState,
  inGuest,
  makeBlockLinks,
  ours,
  type RunResult,
  removeBlockLinks,
  resetGuest,
  run,
  sh,
  skipReason,
  theirs,
} from './guest.js';

type Tool = (...args: string[]) => RunResult;
const IMG = '@IMG';

interface Scenario {
  id: string;
  /** The image `@IMG` stands for; `@IMG<k>` stands for images[k]. */
  image: string;
  images?: string[];
  /** Tool-neutral set-up (losetup, dmsetup) before the steps; returns a clean-up. */
  setup?: (img: string) => (() => void) | undefined;
  /** kpartx argument lists; `@IMG` is the image file. */
  steps: string[][];
  /** Look at what is left only after these steps (0-based); after every step when absent. */
  observeAfter?: number[];
}

interface Outcome {
  result: RunResult;
  state: GuestState;
}

const EMPTY: GuestState = { tables: [], attrs: [], uuids: [], nodes: [], loops: [] };

function play(tool: Tool, scenario: Scenario): Outcome[] {
  resetGuest();
  const img = fixtureImage(scenario.image);
  const more = (scenario.images ?? []).map(fixtureImage);
  const substitute = (arg: string): string => {
    if (arg === IMG) return img;
    const k = /^@IMG(\d+)$/.exec(arg);
    return k ? more[Number(k[1])]! : arg;
  };
  const cleanup = scenario.setup?.(img);
  const outcomes: Outcome[] = [];
  try {
    scenario.steps.forEach((step, i) => {
      makeBlockLinks();
      const result = tool(...step.map(substitute));
      const observe = !scenario.observeAfter || scenario.observeAfter.includes(i);
      outcomes.push({ result, state: observe ? guestState() : EMPTY });
    });
  } finally {
    cleanup?.();
    resetGuest();
  }
  return outcomes;
}

/** Differences between the two runs that differences.ts does not list. */
function unexplained(id: string, c: Outcome[], mine: Outcome[]): string[] {
  const problems: string[] = [];
  c.forEach((theirsStep, i) => {
    const oursStep = mine[i]!;
    const pairs: [Field, unknown, unknown][] = [
      ['stdout', theirsStep.result.stdout, oursStep.result.stdout],
      ['stderr', theirsStep.result.stderr, oursStep.result.stderr],
      ['status', theirsStep.result.status, oursStep.result.status],
      [
        'tables',
        [...theirsStep.state.tables, ...theirsStep.state.attrs],
        [...oursStep.state.tables, ...oursStep.state.attrs],
      ],
      ['uuids', theirsStep.state.uuids, oursStep.state.uuids],
      ['nodes', theirsStep.state.nodes, oursStep.state.nodes],
      ['loops', theirsStep.state.loops, oursStep.state.loops],
    ];
    for (const [field, a, b] of pairs) {
      if (JSON.stringify(a) === JSON.stringify(b) || isKnown(id, field)) continue;
      problems.push(
        `${id} step ${i + 1} ${field}:\n  C:    ${JSON.stringify(a)}\n  ours: ${JSON.stringify(b)}`,
      );
    }
  });
  return problems;
}

const losetup = (img: string) => {
  sh('losetup', '/dev/loop0', img);
  return undefined;
};

/** Keep a map open from another process (like a shell's `exec 3</dev/mapper/x`). */
function holdOpen(path: string): ChildProcess {
  const fd = fs.openSync(path, 'r');
  const child = spawn('sleep', ['600'], { stdio: [fd, 'ignore', 'ignore'] });
  fs.closeSync(fd);
  return child;
}

// At most ten images (loop0..loop9): with a loop10 the C tool's substring match (7:1 in 7:10) adds
// its own difference, which force-delete-substring covers on purpose.
const FORMATS = [
  'dos-gpt/t01.img.xz',
  'dos-gpt/t02.img.xz',
  'dos-gpt/t04.img.xz',
  'labels/bsd-c.img.xz',
  'labels/sun.img.xz',
  'labels/mac.img.xz',
  'labels/solaris-lp64.img.xz',
  'labels/unixware.img.xz',
  'labels/ps3.img.xz',
  'labels/dasd-lnx1.img.xz',
];

const SCENARIOS: Scenario[] = [
  {
    // One loop device per image, all mapped at once, then all removed.
    id: 'every-format',
    image: FORMATS[0]!,
    images: FORMATS,
    steps: [...FORMATS.map((_, k) => ['-av', `@IMG${k}`]), ...FORMATS.map((_, k) => ['-dv', `@IMG${k}`])],
    observeAfter: [FORMATS.length - 1, 2 * FORMATS.length - 1],
  },
  {
    id: 'lifecycle-extended',
    image: 'dos-gpt/t02.img.xz',
    steps: [
      ['-av', IMG],
      ['-l', IMG],
      ['-av', IMG],
      ['-uv', IMG],
      ['-dv', IMG],
    ],
  },
  {
    id: 'update-deleted-partition',
    image: 'dos-gpt/t01.img.xz',
    steps: [
      ['-a', IMG],
      ['-uv', IMG],
      ['-dv', IMG],
    ],
    setup: (img) => () => void img,
  },
  {
    id: 'readonly',
    image: 'dos-gpt/t01.img.xz',
    steps: [
      ['-avr', IMG],
      ['-av', IMG],
      ['-avr', IMG],
      ['-dv', IMG],
    ],
  },
  {
    id: 'block-device-operand',
    image: 'dos-gpt/t01.img.xz',
    setup: losetup,
    steps: [
      ['-av', '/dev/loop0'],
      ['-uv', '/dev/loop0'],
      ['-dv', '/dev/loop0'],
    ],
  },
  {
    id: 'rename-delimiter',
    image: 'dos-gpt/t01.img.xz',
    setup: losetup,
    steps: [
      ['-av', '-p', '-part', '/dev/loop0'],
      ['-uv', '/dev/loop0'],
      ['-dv', '/dev/loop0'],
    ],
  },
  {
    id: 'nosync-add',
    image: 'dos-gpt/t01.img.xz',
    steps: [
      ['-avn', IMG],
      ['-dvn', IMG],
    ],
  },
  {
    id: 'conflict-add',
    image: 'dos-gpt/t01.img.xz',
    setup: () => {
      sh('dmsetup', 'create', 'loop0p2', '--table', '0 8 error');
      return undefined;
    },
    steps: [['-av', IMG]],
  },
  {
    id: 'force-delete-substring',
    image: 'dos-gpt/t01.img.xz',
    setup: (img) => {
      sh('losetup', '/dev/loop1', img);
      sh('losetup', '/dev/loop10', img);
      sh('dmsetup', 'create', 'onloop10', '--table', '0 8 linear 7:10 0');
      return undefined;
    },
    steps: [
      ['-dv', '/dev/loop1'],
      ['-dvf', '/dev/loop1'],
    ],
  },
  {
    id: 'update-foreign',
    image: 'dos-gpt/t01.img.xz',
    setup: (img) => {
      sh('losetup', '/dev/loop0', img);
      sh('dmsetup', 'create', 'loop0p9', '--table', '0 8 linear 7:0 0');
      return undefined;
    },
    steps: [['-uv', '/dev/loop0']],
  },
  // Names libdevmapper mangles: both tools must make, find and print the same maps.
  {
    id: 'mangled-space',
    image: 'dos-gpt/t01.img.xz',
    steps: [
      ['-av', '-p', ' x', IMG],
      ['-av', '-p', ' x', IMG],
      ['-uv', '-p', ' x', IMG],
      ['-dv', IMG],
    ],
  },
  {
    id: 'mangled-slash',
    image: 'dos-gpt/t01.img.xz',
    setup: losetup,
    steps: [
      ['-av', '-p', '/x', '/dev/loop0'],
      ['-uv', '-p', '/x', '/dev/loop0'],
      ['-dv', '/dev/loop0'],
    ],
  },
  {
    id: 'mangled-utf8',
    image: 'dos-gpt/t02.img.xz',
    setup: losetup,
    steps: [
      ['-av', '-p', 'é\\', '/dev/loop0'],
      ['-dv', '/dev/loop0'],
    ],
  },
  {
    // Given mangled already: kept as it is; -a prints it as given, -d as libdevmapper unmangles it.
    id: 'mangled-already',
    image: 'dos-gpt/t01.img.xz',
    setup: losetup,
    steps: [
      ['-av', '-p', '\\x20', '/dev/loop0'],
      ['-av', '-p', ' ', '/dev/loop0'],
      ['-dv', '/dev/loop0'],
    ],
  },
  {
    id: 'mangled-refused',
    image: 'dos-gpt/t01.img.xz',
    steps: [
      ['-av', '-p', '\\x20 ', IMG],
      ['-av', '-p', '\\x5cx', IMG],
    ],
  },
  {
    // What a kpartx killed between creating a map and loading its table leaves.
    id: 'tableless-delete',
    image: 'dos-gpt/t01.img.xz',
    setup: (img) => {
      losetup(img);
      sh('dmsetup', 'create', '--notable', '-u', 'part1-devnode_7:0_Wh5pYvM', 'loop0p1');
      sh('dmsetup', 'create', '--notable', '-u', 'part2-devnode_7:0_Wh5pYvM', 'loop0p2');
      sh('dmsetup', 'load', 'loop0p2', '--table', '0 4096 linear 7:0 6144');
      return undefined;
    },
    steps: [['-dv', '/dev/loop0']],
  },
  {
    id: 'tableless-add',
    image: 'dos-gpt/t01.img.xz',
    setup: (img) => {
      losetup(img);
      sh('dmsetup', 'create', '--notable', '-u', 'part1-devnode_7:0_Wh5pYvM', 'loop0p1');
      return undefined;
    },
    steps: [
      ['-av', '/dev/loop0'],
      ['-dv', '/dev/loop0'],
    ],
  },
  {
    id: 'mapper-file',
    image: 'dos-gpt/t01.img.xz',
    setup: () => {
      fs.writeFileSync('/dev/mapper/loop0p2', 'keep me\n');
      return undefined;
    },
    steps: [
      ['-av', IMG],
      ['-dv', IMG],
    ],
  },
];

describe.skipIf(!inGuest)(`C kpartx versus ours on real device-mapper (${skipReason})`, () => {
  beforeAll(() => {
    resetGuest();
    // udev would make these; the C tool finds an image's loop device only through them.
    makeBlockLinks();
  });
  afterAll(() => {
    removeBlockLinks();
    resetGuest();
  });

  for (const scenario of SCENARIOS) {
    it(scenario.id, () => {
      const special = scenario.id === 'update-deleted-partition';
      const playScenario = (tool: Tool): Outcome[] => {
        if (!special) return play(tool, scenario);
        // Partition 3 disappears from the table between -a and -u.
        resetGuest();
        const img = fixtureImage(scenario.image);
        const out: Outcome[] = [];
        try {
          out.push({ result: tool('-a', img), state: guestState() });
          sh('sfdisk', '-q', '--delete', img, '3');
          for (const step of scenario.steps.slice(1)) {
            const result = tool(...step.map((a) => (a === IMG ? img : a)));
            out.push({ result, state: guestState() });
          }
        } finally {
          resetGuest();
        }
        return out;
      };
      const c = playScenario(theirs);
      const mine = playScenario(ours);
      expect(unexplained(scenario.id, c, mine)).toEqual([]);
      // Sanity: the C runs really did something where they should.
      if (scenario.id === 'every-format')
        expect(c[FORMATS.length - 1]!.state.tables.length).toBeGreaterThan(30);
      // every-format runs each tool twice per format: about a minute under emulation, more when
      // the host is busy.
    }, 360_000);
  }

  it('busy-delete: a held map is kept, the others go (ours) / the walk stops (C)', () => {
    const outcomes = (tool: Tool) => {
      resetGuest();
      const img = fixtureImage('dos-gpt/t02.img.xz');
      tool('-a', img);
      const holder = holdOpen('/dev/mapper/loop0p5');
      try {
        const result = tool('-dv', img);
        return { result, state: guestState() };
      } finally {
        holder.kill('SIGKILL');
        run('sleep', ['0.2']);
        resetGuest();
      }
    };
    const c = outcomes(theirs);
    const mine = outcomes(ours);
    expect(isKnown('busy-delete', 'stdout')).toBeDefined();
    expect(c.result.stdout).toContain('loop0p5 is in use. Not removing');
    expect(c.result.status).toBe(1);
    expect(mine.result.status).not.toBe(0);
    expect(mine.result.stdout).toContain('loop0p5 is in use. Not removing');
    // Ours removed everything but the busy map; the loop stays bound while p5 uses it.
    expect(mine.state.tables.map((t) => t.split(':')[0])).toEqual(['loop0p5']);
    expect(mine.state.loops).toHaveLength(1);
  });

  it('cross-deletion: maps made by the C tool are removed by ours, and the other way round', () => {
    for (const [adder, deleter] of [
      [theirs, ours],
      [ours, theirs],
    ] as const) {
      resetGuest();
      const img = fixtureImage('dos-gpt/t02.img.xz');
      expect(adder('-a', img).status).toBe(0);
      const before = guestState();
      expect(before.tables).toHaveLength(5);
      const removal = deleter('-dv', img);
      expect(removal.status).toBe(0);
      expect(removal.stdout.split('\n').filter(Boolean).sort()).toEqual(
        before.tables.map((t) => `del devmap : ${t.split(':')[0]}`).sort(),
      );
      const after = guestState();
      expect(after.tables).toEqual([]);
      expect(after.nodes).toEqual([]);
      if (deleter === ours && adder === theirs) {
        // Ours never detaches a loop it did not attach (it cannot tell the C tool's from a user's).
        expect(isKnown('cross-delete-c-loop', 'loops')).toBeDefined();
        expect(removal.stderr).toMatch(/^loop kept : \/dev\/loop\d+ \(not attached by kpartx;/);
        expect(after.loops).toHaveLength(1);
      } else {
        expect(after.loops).toEqual([]);
      }
    }
    // Mangled names too: each tool removes the other's `loop0\x20x<N>` maps.
    for (const [adder, deleter] of [
      [theirs, ours],
      [ours, theirs],
    ] as const) {
      resetGuest();
      const img = fixtureImage('dos-gpt/t01.img.xz');
      expect(adder('-a', '-p', ' x', img).status).toBe(0);
      expect(guestState().nodes).toEqual([1, 2, 3, 4].map((n) => `loop0\\x20x${n} 254:${n - 1}`));
      const removal = deleter('-dv', img);
      expect(removal.status).toBe(0);
      expect(removal.stdout).toBe([1, 2, 3, 4].map((n) => `del devmap : loop0 x${n}\n`).join(''));
      expect(guestState()).toMatchObject({ tables: [], nodes: [] });
    }
    // And a C-made set updated by ours keeps its names and UUIDs.
    resetGuest();
    const img = fixtureImage('dos-gpt/t01.img.xz');
    theirs('-a', img);
    const made = guestState();
    const update = ours('-uv', img);
    expect(update.status).toBe(0);
    expect(guestState().uuids).toEqual(made.uuids);
    expect(guestState().tables).toEqual(made.tables);
    resetGuest();
  }, 300_000);
});
