/**
 * Disk and directory text in the app: every string an engine hands over may hold terminal escapes.
 * The screens draw escapes for them, whichever field they sit in, while the engine still gets the
 * raw paths back (a file with an escape in its name opens).
 */
import { describe, expect, it } from 'vitest';
import { type Displayed, displayed } from '../../src/tui/display.js';
import type {
  Inspection,
  MapOptions,
  MountChoice,
  MountView,
  OpOutcome,
  ProgressEvent,
  SourceEntry,
} from '../../src/tui/model.js';
import { type AppState, initialAppState } from '../../src/tui/state/app-reducer.js';
import { ScriptedEngine } from './fixtures.js';
import { keys, startApp } from './helpers.js';

const ESC = '\u001b';
/** Title, clipboard, clear screen, carriage return, C1 CSI, bidi override, lone surrogate. */
const EVIL = `${ESC}]0;T\u0007${ESC}]52;c;SGk=\u0007${ESC}[2J\r\u009b1m\u202e\ud800`;
const SHOWN = '\\x1b]0;T\\x07\\x1b]52;c;SGk=\\x07\\x1b[2J\\x0d\\u009b1m\\u202e\\ud800';
const evil = (label: string) => `${label}${EVIL}`;

// biome-ignore lint/suspicious/noControlCharactersInRegex: SGR sequences start with ESC
const STYLES = /\u001b\[[0-9;]*m/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters
const ACTIVE = /[\0-\t\v-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|\p{Cs}/gu;

/** Anything but Ink's own colours and weights that a terminal would act on. */
const activeSequences = (frame: string): string[] => frame.replace(STYLES, '').match(ACTIVE) ?? [];

const IMAGE = `/work/${evil('disk')}.img`;
const MAP = `/dev/mapper/${evil('loop0p')}1`;

/** The scripted engine with hostile text in every string it hands over. */
class HostileEngine extends ScriptedEngine {
  override listSources(): SourceEntry[] {
    return [
      {
        path: IMAGE,
        name: evil('d'),
        kind: 'image',
        sizeBytes: 64 << 20,
        what: evil('gpt'),
        model: evil('model'),
        partitioned: true,
        mappedBy: [evil('m')],
      },
    ];
  }
  override inspect(path: string, options: MapOptions): Inspection {
    const base = super.inspect(path, options);
    return {
      layout: {
        ...base.layout,
        diskId: evil('id'),
        note: evil('note'),
        warnings: [evil('warning')],
        partitions: base.layout.partitions.map((p) => ({
          ...p,
          typeName: evil('type'),
          gptName: evil('name'),
          contents: evil('ext4 '),
          contentHint: evil('hint'),
          flags: [evil('flag')],
          ...(p.mappedAs ? { mappedAs: evil(p.mappedAs) } : {}),
        })),
      },
      preview: {
        ...base.preview,
        problems: [evil('problem')],
        maps: base.preview.maps.map((m) => ({ ...m, name: evil(m.name), table: evil('table') })),
      },
      existing: base.existing.map((m) => ({
        ...m,
        name: evil(m.name),
        path: MAP,
        holders: [evil('holder')],
        contents: evil('ext4 '),
      })),
    };
  }
  override async add(
    path: string,
    options: MapOptions,
    emit: (e: ProgressEvent) => void,
  ): Promise<OpOutcome> {
    await super.add(path, options, (event) => {
      if (event.type === 'confirmed') emit({ ...event, name: evil(event.name), detail: evil('detail') });
      else if (event.type === 'created') emit({ ...event, name: evil(event.name), path: evil(event.path) });
    });
    emit({ type: 'failed', name: evil('x'), message: evil('message') });
    return { ok: true, summary: evil('summary') };
  }
  override async mount(mapPath: string, { readOnly, exec }: MountChoice): Promise<MountView> {
    this.calls.push(`mount ${mapPath}`);
    const mounted: MountView = {
      source: mapPath,
      mountpoint: `/run/${evil('mnt')}`,
      readOnly,
      exec,
      fstype: evil('fs'),
      tree: [evil('file'), `${evil('dir')}/`],
    };
    this.mounted = mounted;
    return mounted;
  }
  override async unmount(): Promise<void> {
    throw new Error(evil('unmount failed'));
  }
}

describe('displayed(): the one conversion from state to screen', () => {
  const hostileState = (): AppState => ({
    ...initialAppState,
    sources: new HostileEngine().listSources(),
    sourcePath: IMAGE,
    pathInput: evil('typed'),
    message: { text: evil('error'), tone: 'error' },
  });

  it('escapes every string anywhere in the state, and nothing else', () => {
    const raw = hostileState();
    const shown: Displayed<AppState> = displayed(raw);
    const strings: string[] = [];
    const walk = (value: unknown) => {
      if (typeof value === 'string') strings.push(value);
      else if (value && typeof value === 'object') for (const item of Object.values(value)) walk(item);
    };
    walk(shown);
    expect(strings.length).toBeGreaterThan(10);
    for (const s of strings) expect(activeSequences(s)).toEqual([]);
    expect(shown.sources[0]!.path).toBe(`/work/disk${SHOWN}.img`);
    expect(shown.message?.text).toBe(`error${SHOWN}`);
    // Everything that is not free text stays as it was.
    expect(shown.screen).toBe('sources');
    expect(shown.message?.tone).toBe('error');
    expect(shown.sources[0]!.sizeBytes).toBe(64 << 20);
    expect(shown.options).toBe(raw.options);
    // The state itself keeps the raw strings (the engine needs the real path).
    expect(raw.sources[0]!.path).toBe(IMAGE);
  });

  it('returns the same objects when nothing needs an escape, and converts each object once', () => {
    const clean = { ...initialAppState, sources: new ScriptedEngine().listSources() };
    expect(displayed(clean)).toBe(clean);
    const raw = hostileState();
    expect(displayed(raw)).toBe(displayed(raw));
    // A new state sharing unchanged parts shares their converted copies too.
    const next = { ...raw, sourceIndex: 1 };
    expect(displayed(next).sources).toBe(displayed(raw).sources);
  });
});

describe('the app over an engine full of hostile text', () => {
  it('draws escapes on every screen, and hands the raw paths back to the engine', async () => {
    const engine = new HostileEngine();
    const t = startApp(engine, [], { size: { columns: 200, rows: 40 } });
    const frames: string[] = [];
    const seen = async (text: string | RegExp) => {
      await t.waitFor(text);
      frames.push(t.frame());
    };

    await seen(`d${SHOWN.slice(0, 8)}`);
    await t.press(keys.enter);
    await seen('gpt table');
    await seen(`name "name${SHOWN}"`);
    expect(t.frame()).toContain(`kpartx-tui · /work/disk${SHOWN}.img`);
    // Opened by its real name.
    expect(engine.calls).toContain(`inspect ${IMAGE}`);

    await t.press('a');
    await seen('Create 3 maps read-only?');
    await t.press('y');
    await seen(`summary${SHOWN}`);
    expect(t.frame()).toContain(`message${SHOWN}`);
    await t.press(keys.enter);
    await seen(/● 1 /);

    await t.press('m');
    await seen('Mount read-only');
    await t.press(keys.enter);
    await seen(`file${SHOWN}`);
    expect(t.frame()).toContain(`on /run/mnt${SHOWN}`);
    // Mounted by its real path.
    expect(engine.calls).toContain(`mount ${MAP}`);

    await t.press('u');
    await seen(`error: unmount failed${SHOWN}`);

    for (const frame of frames) expect(activeSequences(frame)).toEqual([]);
    t.app.unmount();
  });
});
