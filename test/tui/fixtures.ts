/** Screen data and a scripted TuiEngine for component and flow tests. */
import { deferSignals } from '../../src/engine/signals.js';
import type {
  ConvertPlan,
  ExistingMapView,
  Inspection,
  Leftover,
  MapOptions,
  MountChoice,
  MountView,
  OpOutcome,
  OverlayView,
  PartitionRow,
  ProgressEvent,
  SourceEntry,
  TuiEngine,
} from '../../src/tui/model.js';
import type { DirEntry } from '../../src/tui/path-completion.js';
import type { RecoveryEngine } from '../../src/tui/recovery-model.js';

export const SOURCES: SourceEntry[] = [
  {
    path: '/work/disk.img',
    name: 'disk.img',
    kind: 'image',
    sizeBytes: 64 << 20,
    what: 'gpt',
    partitioned: true,
    mappedBy: [],
  },
  { path: '/dev/vda', name: 'vda', kind: 'virtio', sizeBytes: 20 * 2 ** 30, partitioned: true, mappedBy: [] },
  {
    path: '/dev/loop3',
    name: 'loop3',
    kind: 'loop',
    sizeBytes: 8 << 20,
    model: '/work/other.img',
    partitioned: false,
    mappedBy: ['loop3p1'],
  },
];

export const PARTITIONS: PartitionRow[] = [
  {
    number: 1,
    start: 2048,
    size: 20480,
    container: 0,
    kind: 'primary',
    typeName: 'EFI System',
    gptName: 'esp',
    flags: [],
    contents: 'vfat "EFI"',
  },
  {
    number: 2,
    start: 22528,
    size: 81920,
    container: 0,
    kind: 'primary',
    typeName: 'Linux filesystem',
    gptName: 'root',
    flags: [],
    contents: 'ext4 "root"',
  },
  {
    number: 3,
    start: 104448,
    size: 16384,
    container: 0,
    kind: 'primary',
    typeName: 'Linux swap',
    gptName: 'swap',
    flags: [],
    contents: 'swap',
  },
];

export interface ScriptedEngineOptions {
  isRoot?: boolean;
  /** Name of a map whose creation fails (the engine then rolls back what it made). */
  failOn?: string;
  /** Holders per map name: delete reports these as busy. */
  busy?: Record<string, string[]>;
  /** Milliseconds each map takes to make (a window for interrupting an add). */
  mapDelayMs?: number;
  /** Message of a failing unmount (a shell elsewhere sits in the mountpoint). */
  unmountFails?: string;
}

/**
 * A TuiEngine over fixed data that keeps state like the real one: maps exist after add, are gone
 * after remove, mounts come and go. Names follow the kpartx rules for `/dev/loop0`.
 */
export class ScriptedEngine implements TuiEngine {
  readonly isRoot: boolean;
  /** Its filesystems hold no system the app knows (the real adapter is tested in accounts.test.tsx). */
  readonly recovery: RecoveryEngine = {
    findSystem: () => null,
    listAccounts: () => [],
    prepareReset: () => {
      throw new Error('no system here');
    },
    commitReset: () => {
      throw new Error('no system here');
    },
    discardReset: () => {},
  };
  mapped = new Set<number>();
  mounted: MountView | null = null;
  readonly calls: string[] = [];
  constructor(readonly options: ScriptedEngineOptions = {}) {
    this.isRoot = options.isRoot ?? true;
  }
  listSources(): SourceEntry[] {
    return SOURCES;
  }
  readonly home = undefined;
  /** Its paths are made up: nothing on disk completes them. */
  async listDirectory(): Promise<DirEntry[]> {
    return [];
  }
  private names(options: MapOptions) {
    const delimiter = options.delimiter ?? 'p';
    return PARTITIONS.map((p) => ({ p, name: `loop0${delimiter}${p.number}` }));
  }
  inspect(path: string, options: MapOptions): Inspection {
    this.calls.push(`inspect ${path}`);
    const named = this.names(options);
    const existing: ExistingMapView[] = named
      .filter(({ p }) => this.mapped.has(p.number))
      .map(({ p, name }, i) => ({
        name,
        number: p.number,
        path: `/dev/mapper/${name}`,
        devno: `7:${i + 1}`,
        start: p.start,
        size: p.size,
        readOnly: options.readOnly,
        holders: this.options.busy?.[name] ?? [],
        // What the real engine probes on each map: the partition's content.
        ...(p.contents ? { contents: p.contents } : {}),
      }));
    return {
      layout: {
        path,
        tableType: 'gpt',
        diskId: '6f1c2d4e-0000-4000-8000-1234567890ab',
        sectorSize: 512,
        sizeSectors: 131072,
        partitions: PARTITIONS.map((p) => ({
          ...p,
          ...(this.mapped.has(p.number) ? { mappedAs: named.find((n) => n.p === p)?.name } : {}),
        })),
        warnings: [],
      },
      preview: {
        backend: 'loop',
        backendReason: 'no device-mapper',
        delimiter: options.delimiter ?? 'p',
        maps: named.map(({ p, name }) => ({
          number: p.number,
          name,
          path: `/dev/mapper/${name}`,
          table: `offset ${p.start * 512} size ${p.size * 512} on /dev/loop0`,
          readOnly: options.readOnly,
          exists: this.mapped.has(p.number),
        })),
        problems: [],
      },
      existing,
    };
  }
  /**
   * Like the real engine: held against signals from the start; an interruption stops the add
   * before its next map and rolls back what it made.
   */
  add(_path: string, options: MapOptions, emit: (e: ProgressEvent) => void): Promise<OpOutcome> {
    return deferSignals(
      (interrupted) => this.addMaps(options, emit, interrupted),
      () => 'the add was rolled back: nothing it made is left',
    );
  }
  private async addMaps(
    options: MapOptions,
    emit: (e: ProgressEvent) => void,
    interrupted: AbortSignal,
  ): Promise<OpOutcome> {
    const made: string[] = [];
    for (const [i, { p, name }] of this.names(options).entries()) {
      await new Promise((r) => setTimeout(r, this.options.mapDelayMs ?? 5));
      if (interrupted.aborted) {
        emit({ type: 'failed', name, message: `interrupted before ${name}` });
        for (const back of made.reverse()) emit({ type: 'rolled-back', name: back });
        this.mapped.clear();
        return { ok: false, summary: 'interrupted; rolled back' };
      }
      if (name === this.options.failOn) {
        emit({ type: 'failed', name, message: 'LOOP_CONFIGURE failed: EBUSY' });
        for (const back of made.reverse()) emit({ type: 'rolled-back', name: back });
        this.mapped.clear();
        return { ok: false, summary: `${name} failed; rolled back ${made.length} maps` };
      }
      emit({ type: 'created', name, path: `/dev/mapper/${name}`, devno: `7:${i + 1}` });
      emit({
        type: 'confirmed',
        name,
        detail: `offset ${p.start * 512} size ${p.size * 512} · node present`,
      });
      made.push(name);
      this.mapped.add(p.number);
    }
    return { ok: true, summary: `${made.length} maps created and confirmed` };
  }
  async remove(_path: string, options: MapOptions, emit: (e: ProgressEvent) => void): Promise<OpOutcome> {
    let kept = 0;
    for (const { p, name } of this.names(options)) {
      if (!this.mapped.has(p.number)) continue;
      const holders = this.options.busy?.[name];
      if (holders) {
        emit({ type: 'busy', name, holders });
        kept += 1;
        continue;
      }
      emit({ type: 'removed', name, path: `/dev/mapper/${name}` });
      this.mapped.delete(p.number);
    }
    return kept
      ? { ok: false, summary: `${kept} map(s) busy, kept` }
      : { ok: true, summary: 'all maps removed' };
  }
  async tearDown(path: string, options: MapOptions, emit: (e: ProgressEvent) => void): Promise<OpOutcome> {
    if (this.mounted) {
      emit({ type: 'note', name: 'unmount loop0p2', detail: `${this.mounted.mountpoint} unmounted` });
      this.mounted = null;
    }
    return this.remove(path, options, emit);
  }
  async mount(mapPath: string, { readOnly, exec }: MountChoice): Promise<MountView> {
    this.calls.push(`mount ${mapPath} ${readOnly ? 'ro' : 'rw'}${exec ? ' exec' : ''}`);
    this.mounted = {
      source: mapPath,
      mountpoint: '/tmp/kpartx-tui-x/loop0p2',
      readOnly,
      exec,
      fstype: 'ext4',
      tree: ['etc/', 'hello.txt'],
    };
    return this.mounted;
  }
  async unlock(mapPath: string, _passphrase: string, choice: MountChoice): Promise<MountView> {
    this.calls.push(`unlock ${mapPath}`);
    return this.mount(`${mapPath}-luks`, choice);
  }
  async closeOpened(): Promise<string[]> {
    return [];
  }
  mountTarget(mapPath: string): string {
    return `/tmp/kpartx-tui-x/${mapPath.split('/').pop()}`;
  }
  mountableFilesystems(): string[] {
    return ['btrfs', 'ext4', 'xfs'];
  }
  async remountWritable(mount: MountView): Promise<MountView> {
    this.calls.push(`remount ${mount.source} rw`);
    this.mounted = { ...mount, readOnly: false };
    return this.mounted;
  }
  listTree(): string[] {
    return this.mounted?.tree ?? [];
  }
  async unmount(mount: MountView): Promise<void> {
    this.calls.push(`unmount ${mount.mountpoint}`);
    if (this.options.unmountFails)
      throw new Error(`cannot unmount ${mount.mountpoint}: ${this.options.unmountFails}`);
    this.mounted = null;
  }
  async leftovers(paths: string[]): Promise<Leftover[]> {
    this.calls.push(`leftovers ${paths.join(' ')}`);
    if (this.mapped.size === 0) return [];
    const maps = [...this.mapped].sort().map((n) => `loop0p${n}`);
    const mounted = this.mounted;
    const mounts = mounted
      ? [{ map: mounted.source.replace(/^.*\//, ''), mountpoint: mounted.mountpoint }]
      : [];
    return paths.map((path) => ({
      path,
      maps,
      backend: 'loop' as const,
      mounts,
      loop: '/dev/loop0',
      removeWith: [...mounts.map((m) => `umount ${m.mountpoint}`), `kpartx -d ${path}`],
    }));
  }
  convertTarget(path: string): string {
    return `${path}.raw`;
  }
  planConvert(): ConvertPlan {
    throw new Error('the scripted engine has no containers');
  }
  async convert(): Promise<void> {
    throw new Error('the scripted engine has no containers');
  }
  /** As on this host: no nbd, so overlay mode is unavailable (the real adapter is tested in overlay.test.tsx). */
  overlayProblem(): string {
    return 'overlay mode attaches the overlay through nbd, and this kernel has no nbd (modprobe nbd failed)';
  }
  overlayTarget(path: string): string {
    return `${path}.overlay.qcow2`;
  }
  planOverlay(): OverlayView {
    throw new Error('the scripted engine has no nbd');
  }
  async createOverlay(): Promise<void> {
    throw new Error('the scripted engine has no nbd');
  }
  async endOverlay(): Promise<string> {
    throw new Error('the scripted engine has no nbd');
  }
}
