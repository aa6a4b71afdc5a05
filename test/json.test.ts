import { describe, expect, it } from 'vitest';
import { fixtureImage, recording } from '../fixtures/dos-gpt.js';
import { type JsonDocument, jsonMain } from '../src/cli/json.js';
import type { SourceReport } from '../src/engine/inspect.js';
import { inspectSource } from '../src/engine/inspect.js';
import { fakeBackend, mbrImage, runCli, t01 } from './cli-helpers.js';
import { FakeMachine } from './support/fake-machine.js';

async function runJson(args: string[], kernel: FakeMachine) {
  let stdout = '';
  let stderr = '';
  const status = await jsonMain(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    loadMachine: async () => kernel,
  });
  return { status, stderr, document: stdout ? (JSON.parse(stdout) as JsonDocument) : undefined };
}

/** T01 with a Linux swap signature (v1, label "myswap") in partition 2. */
function t01WithSwap(): Uint8Array {
  const bytes = t01();
  const at = 18432 * 512;
  bytes.set(new TextEncoder().encode('SWAPSPACE2'), at + 4096 - 10);
  const view = new DataView(bytes.buffer);
  view.setUint32(at + 0x400, 1, true);
  view.setUint32(at + 0x404, 16384 / 8 - 1, true);
  bytes.set(new TextEncoder().encode('myswap'), at + 0x400 + 28);
  return bytes;
}

describe('kpartx-tui --json', () => {
  it('reports the table, every partition and the maps -a would create', async () => {
    const kernel = new FakeMachine();
    kernel.addFile('/img/t01.img', t01WithSwap());
    const { status, document } = await runJson(['--json', '/img/t01.img'], kernel);
    expect(status).toBe(0);
    const report = document!.sources[0]!;
    expect(report).toMatchObject({
      source: '/img/t01.img',
      device: '/dev/loop0',
      image: { file: '/img/t01.img', loop: '/dev/loop0', loopState: 'predicted' },
      devno: { major: 7, minor: 0 },
      sizeBytes: 64 * 1024 * 1024,
      sizeSectors: 131072,
      sectorSize: 512,
      mapName: 'loop0',
      delimiter: 'p',
      parentUuid: 'devnode_7:0_Wh5pYvM',
      table: { type: 'dos', sectorSize: 512 },
      backend: 'dm',
      backendProblem: null,
      existing: [],
      problems: [],
      error: null,
    });
    expect(report.partitions.map((p) => [p.number, p.start, p.size, p.end, p.type?.code])).toEqual([
      [1, 2048, 16384, 18431, '0x83'],
      [2, 18432, 16384, 34815, '0x83'],
      [3, 34816, 16384, 51199, '0x83'],
      [4, 51200, 79872, 131071, '0x83'],
    ]);
    expect(report.partitions[1]!.map).toMatchObject({
      name: 'loop0p2',
      dmName: 'loop0p2',
      uuid: 'part2-devnode_7:0_Wh5pYvM',
      table: '0 16384 linear 7:0 18432',
      path: '/dev/mapper/loop0p2',
    });
    expect(report.partitions[1]!.content).toMatchObject({ type: 'swap', usage: 'swap', label: 'myswap' });
    expect(report.partitions[0]!.content).toBeNull();
    expect(report.maps.map((m) => m.name)).toEqual(['loop0p1', 'loop0p2', 'loop0p3', 'loop0p4']);
    expect(kernel.calls).toEqual([]);
  });

  it('carries GPT names, GUIDs and types', async () => {
    const kernel = new FakeMachine();
    kernel.addFile('/img/t04.img', fixtureImage('t04.img'));
    const { document } = await runJson(['/img/t04.img', '--no-probe'], kernel);
    const report = document!.sources[0]!;
    expect(report.table!.type).toBe('gpt');
    expect(report.table!.diskId).toMatch(/^[0-9a-f-]{36}$/);
    // Start and size as the C tool lists them for this fixture.
    const [, size, start] = /^LOOPp1 : 0 (\d+) \/dev\/LOOP (\d+)$/.exec(recording('t04').stdout[0]!)!;
    const first = report.partitions[0]!;
    expect(first).toMatchObject({
      number: 1,
      name: 'EFI System',
      start: Number(start),
      size: Number(size),
      parent: null,
    });
    expect(first.type!.name).toMatch(/EFI/);
    expect(first.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(report.partitions.map((p) => p.name)).toEqual(['EFI System', 'root', 'my data', 'hōme ✓']);
  });

  it('shows the maps that exist now, on the loop already bound', async () => {
    const kernel = new FakeMachine();
    kernel.addFile('/img/t01.img', t01());
    expect((await runCli(['-a', '/img/t01.img'], { kernel })).status).toBe(0);
    const report = inspectSource('/img/t01.img', kernel, { backend: fakeBackend('dm', kernel) });
    expect(report.image!.loopState).toBe('found');
    expect(report.existing.map((m) => [m.name, m.number, m.start, m.size])).toEqual([
      ['loop0p1', 1, 2048, 16384],
      ['loop0p2', 2, 18432, 16384],
      ['loop0p3', 3, 34816, 16384],
      ['loop0p4', 4, 51200, 79872],
    ]);
    expect(report.partitions[2]!.existing!.path).toBe('/dev/mapper/loop0p3');
  });

  it('marks logical partitions with their parent and past-the-end ones as refused', async () => {
    const image = mbrImage(24576, [
      [0x83, 2048, 8192],
      [0x05, 12288, 8192],
      [0x83, 20480, 8192],
    ]);
    image.set(mbrImage(1, [[0x83, 2048, 2048]]), 12288 * 512);
    const kernel = new FakeMachine();
    kernel.addFile('/img/cut.img', image);
    const { document, status } = await runJson(['-p', '-part', '/img/cut.img'], kernel);
    expect(status).toBe(0);
    const report: SourceReport = document!.sources[0]!;
    expect(report.partitions.map((p) => [p.number, p.kind, p.parent, p.pastEnd])).toEqual([
      [1, 'primary', null, false],
      [2, 'extended', null, false],
      [3, 'primary', null, true],
      [5, 'logical', 2, false],
    ]);
    expect(report.maps).toEqual([]);
    expect(report.problems).toEqual([
      'loop0-part3: partition 3 (sectors 20480-28671) ends past the end of /dev/loop0 (24576 sectors)',
    ]);
    expect(report.partitions[3]!.map!.table).toBe('0 2048 linear 7:0 14336');
    expect(report.partitions[2]!.map).toBeNull();
  });

  it('reports unreadable sources with an error and status 1, and still the others', async () => {
    const kernel = new FakeMachine();
    kernel.addFile('/img/t01.img', t01());
    const { status, document } = await runJson(['/nonexistent', '/img/t01.img'], kernel);
    expect(status).toBe(1);
    expect(document!.sources[0]).toMatchObject({
      source: '/nonexistent',
      error: 'failed to stat() /nonexistent',
    });
    expect(document!.sources[1]!.error).toBeNull();
  });

  it('reports an I/O error on one device and still inspects the others', async () => {
    const kernel = new FakeMachine();
    kernel.addDisk('/dev/sdz', t01());
    kernel.addFile('/img/t01.img', t01());
    kernel.failOn('read', { device: '/dev/sdz' });
    const { status, document } = await runJson(['/dev/sdz', '/img/t01.img'], kernel);
    expect(status).toBe(1);
    expect(document!.sources[0]!.error).toBe('/dev/sdz: read failed: Input/output error');
    expect(document!.sources[1]!.partitions).toHaveLength(4);
  });

  it('says which backend cannot work', async () => {
    const kernel = new FakeMachine({ dm: false });
    kernel.addFile('/img/t01.img', t01());
    const { document } = await runJson(['--backend', 'dm', '/img/t01.img'], kernel);
    expect(document!.sources[0]).toMatchObject({
      backend: null,
      backendProblem: 'device mapper prerequisites not met',
    });
  });

  it('prints usage without sources', async () => {
    const { status, stderr } = await runJson(['--json'], new FakeMachine());
    expect(status).toBe(1);
    expect(stderr).toMatch(/^usage: kpartx-tui --json/);
  });
});
