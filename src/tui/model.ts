/**
 * What the screens show, independent of how the engine computes it. The container hook turns
 * engine results into these shapes; components only ever see them, so every screen can be rendered
 * from plain data in tests.
 */
import type { DirEntry } from './path-completion.js';
import type { RecoveryEngine } from './recovery-model.js';

export type SourceKind = 'disk' | 'loop' | 'dm' | 'md' | 'nbd' | 'virtio' | 'image' | 'file';

export interface SourceEntry {
  /** Path handed to the engine: `/dev/sda`, `/work/disk.img`. */
  path: string;
  /** Short name for the list: `sda`, `disk.img`. */
  name: string;
  kind: SourceKind;
  sizeBytes: number;
  /** Disk model from sysfs, when the device has one. */
  model?: string;
  /** `gpt`, `dos`, …, `qcow2 image`, `iso9660`, `no table`: what a quick look found. */
  what?: string;
  partitioned: boolean;
  /** Names of maps or devices built on it (dm holders, loop devices bound to the file). */
  mappedBy: string[];
  /** What an earlier run left set up on it, as found when it was last opened: `2 maps, 1 mounted`. */
  leftovers?: string;
}

export interface PartitionRow {
  number: number;
  /** 512-byte sectors, as kpartx counts them. */
  start: number;
  size: number;
  /** 0 or the number of the containing partition. */
  container: number;
  kind: 'primary' | 'extended' | 'logical' | 'nested';
  /** An extended partition's whole length (512-byte sectors); `size` is its 1 KiB map's. */
  extent?: number;
  typeName: string;
  typeCode?: string;
  gptName?: string;
  flags: string[];
  /** `ext4 "root"`, `swap`, `LUKS2`…, when the content probe knows. */
  contents?: string;
  /** `Debian 12 root`: the system on its filesystem, read without mounting. */
  system?: string;
  /** `Debian GNU/Linux 12 root · host bookworm-vm · SELinux enforcing (targeted)`: all its files say. */
  systemDetail?: string;
  /** What to run next for LUKS, LVM, md RAID, ZFS, swap…, naming the partition's map path when known. */
  contentHint?: string;
  /** The probe recognised the content: true for a filesystem mounted as it is, false for the others. */
  mountable?: boolean;
  /** For recognised content that is not mounted as it is: what it is and what to do instead. */
  notMountableWhy?: string;
  /** Name of the existing map of this partition. */
  mappedAs?: string;
}

/** The VM disk container the source is (qcow2, VMDK…); the table and partitions are those inside it. */
export interface ContainerView {
  /** `qcow2`, `vmdk`, `vhd`, `vhdx`, `vdi`… */
  format: string;
  description: string;
  /** Bytes of the guest's disk, when known. */
  virtualSize: number | null;
  features: string[];
  /** Why its disk cannot be read here, when it cannot. */
  problem?: string;
  /** Needs nbd and this kernel has none: `c` offers a raw copy made by qemu-img instead. */
  convertible?: boolean;
  /** Mapped through qemu-nbd on this kernel: its maps are those of its /dev/nbdN. */
  throughNbd?: boolean;
}

/** A logical volume, drawn as an indented row under its VG's PV partition(s). */
export interface LogicalVolumeRow {
  name: string;
  sizeSectors: number;
  /** `linear`, `striped`, `thin-pool`, `raid1`… */
  segmentType: string;
  /** `ext4 "root"`, when probed through the LV's extents. */
  contents?: string;
  /** `Rocky Linux 9.4 root`, read through the LV's extents without mounting. */
  system?: string;
  /** `lv linear map`, `not mappable: thin pool — use lvchange -ay vg/pool`… */
  attach: string;
}

/** An LVM volume group assembled from the PVs among the partitions (or the whole disk). */
export interface VolumeGroupRow {
  name: string;
  sizeSectors: number;
  freeSectors: number;
  /** Partitions holding its PVs (0 for the whole disk). */
  pvPartitions: number[];
  /** Its PVs on the other sources given (`b.img`, `b.img #2`): the VG is assembled across them. */
  pvElsewhere: string[];
  /** PVs its metadata lists that are not here: `pv1 (last on /dev/sdb1)`. */
  missing: string[];
  logicalVolumes: LogicalVolumeRow[];
}

export interface LayoutView {
  path: string;
  /** Set when the source is a VM disk container: read through it, mapped only through nbd. */
  container?: ContainerView;
  /** LVM volume groups found on the partitions. */
  volumeGroups?: VolumeGroupRow[];
  /** null when no partition table was found (see `note`). */
  tableType: string | null;
  diskId?: string;
  sectorSize: number;
  /** Size of the whole source, 512-byte sectors. */
  sizeSectors: number;
  partitions: PartitionRow[];
  /** What the source is when it has no table, or advice (qcow2 → qemu-nbd…). */
  note?: string;
  /** Contents were not probed yet (the first look skips it to draw sooner); ask again for them. */
  contentsPending?: boolean;
  warnings: string[];
}

export type BackendChoice = 'auto' | 'dm' | 'loop';

export interface MapOptions {
  readOnly: boolean;
  /** null = kpartx's default (`p` after a trailing digit, else nothing). */
  delimiter: string | null;
  forceGpt: boolean;
  sync: boolean;
  backend: BackendChoice;
}

/** Read-only by default: the write mode the app starts in writes nothing (`r` for direct, `o` for an overlay). */
export const DEFAULT_OPTIONS: MapOptions = {
  readOnly: true,
  delimiter: null,
  forceGpt: false,
  sync: true,
  backend: 'auto',
};

export interface PreviewMap {
  number: number;
  name: string;
  /** Where the node will be: `/dev/mapper/loop0p1` or the loop device. */
  path: string;
  /** The dm table line, or the loop offset/size it gets. */
  table: string;
  readOnly: boolean;
  /** It exists already and will be reloaded rather than created. */
  exists: boolean;
}

export interface Preview {
  backend: 'dm' | 'loop';
  /** Why this backend (e.g. `no device-mapper on this kernel`). */
  backendReason?: string;
  maps: PreviewMap[];
  /** The delimiter in effect (the kpartx default when the option is auto). */
  delimiter: string;
  /** Problems that stop an add (no table, unmappable container…). */
  problems: string[];
  /** No backend can add here (a forced one this kernel lacks): the add is refused before asking. */
  blocked?: string;
}

export interface ExistingMapView {
  name: string;
  number: number | null;
  path: string;
  devno: string;
  start: number;
  size: number;
  readOnly: boolean;
  /** Why it cannot be removed now: mountpoints, holder devices, open count. */
  holders: string[];
  /** Where it is mounted now (by this app or anyone else). */
  mountpoints?: string[];
  /** `ext4 "root"`, `crypto_LUKS`…, when the content probe knows. */
  contents?: string;
  /** Set when the content is known and is not a filesystem to mount as it is (LUKS, LVM, swap…): why, and what instead. */
  notMountableWhy?: string;
  /** A logical volume of a mapped PV partition: its map is made when it is mounted. */
  lv?: { vg: string; name: string };
  /** A LUKS volume this machine can open: picking it asks the passphrase, then mounts what it holds. */
  luks?: boolean;
}

/**
 * Everything of a source that is set up now (maps of either backend, their mounts, the image's
 * loop), as a teardown would take it down: absent when there is nothing.
 */
export interface RemainsView {
  maps: string[];
  mounts: { map: string; mountpoint: string }[];
  loop: { path: string; ours: boolean } | null;
  /** What of it an earlier run left (not made by this app): `2 maps, 1 mounted on /x`; null when none. */
  earlier: string | null;
}

export interface Inspection {
  layout: LayoutView;
  preview: Preview;
  existing: ExistingMapView[];
  /** The LVs of the mapped PV partitions, offered by the mount session like the maps. */
  volumes?: ExistingMapView[];
  remains?: RemainsView;
}

export type StepState = 'running' | 'done' | 'failed' | 'rolled-back' | 'busy' | 'skipped';

/** One line of the live progress view. */
export interface ProgressStep {
  /** Map name, or the loop device for attach/detach steps. */
  name: string;
  state: StepState;
  /** Path and major:minor once created. */
  path?: string;
  devno?: string;
  /** `table read back: 0 204800 linear 7:0 2048 · node present` */
  confirmation?: string;
  /** Failure, busy explanation or rollback text. */
  detail?: string;
}

export type ProgressEvent =
  | { type: 'created'; name: string; path: string; devno: string }
  | { type: 'confirmed'; name: string; detail: string }
  | { type: 'unconfirmed'; name: string; detail: string }
  | { type: 'failed'; name: string; message: string }
  | { type: 'rolled-back'; name: string }
  | { type: 'removed'; name: string; path: string }
  | { type: 'busy'; name: string; holders: string[] }
  | { type: 'note'; name: string; detail: string }
  /** Something a teardown left in place, and why. */
  | { type: 'kept'; name: string; why: string };

export interface OpOutcome {
  ok: boolean;
  /** One line for the summary: `3 maps created and confirmed`, `failed; rolled back 2 maps`. */
  summary: string;
}

/** How to mount: read-only (the default), and whether programs on it may run (off by default). */
export interface MountChoice {
  readOnly: boolean;
  exec: boolean;
  /** Where to mount (absolute, `~` already expanded); the default mountpoint when absent. */
  mountpoint?: string;
  /** The kernel filesystem type, for content the probe does not recognise. */
  fstype?: string;
  /** Filesystem options, as typed: checked so they never undo nosuid, nodev, noexec or read-only. */
  options?: string;
}

export interface MountView {
  /** The mapped partition. */
  source: string;
  mountpoint: string;
  readOnly: boolean;
  /** Programs on it may run (mounted without noexec). */
  exec: boolean;
  fstype: string;
  /** First entries of the mounted tree, `dir/` for directories. */
  tree: string[];
  /** It was mounted before this session (an earlier run): the session took it over. */
  earlier?: boolean;
  /** Something the user should know about what the mount needed (the host's lvm2 may act on it). */
  warning?: string;
}

/** What the TUI needs from the engine and the kernel. The real one and the test ones implement it. */
export interface TuiEngine {
  /** Recognising the system on a mounted filesystem, its accounts, password resets. */
  readonly recovery: RecoveryEngine;
  /**
   * Mount the session's read-only mount read-write, in place; refused with the reason when the map
   * is read-only or the filesystem must not be written (hibernated or dirty NTFS).
   */
  remountWritable(mount: MountView): Promise<MountView>;
  /** Effective uid is 0: actions that change the kernel are allowed. */
  readonly isRoot: boolean;
  listSources(extraPaths: string[]): SourceEntry[];
  /** The user's home, from the environment the app was started with: what `~` means in a path. */
  readonly home: string | undefined;
  /**
   * Entries of a directory for path completion, relative to the directory the app works in
   * (`''` is that directory itself); [] when it cannot be read.
   */
  listDirectory(dir: string): Promise<DirEntry[]>;
  inspect(path: string, options: MapOptions): Inspection | Promise<Inspection>;
  add(path: string, options: MapOptions, emit: (event: ProgressEvent) => void): Promise<OpOutcome>;
  remove(path: string, options: MapOptions, emit: (event: ProgressEvent) => void): Promise<OpOutcome>;
  /** Unmount every mount of the source's maps, remove the maps, release the image's loop if ours. */
  tearDown(path: string, options: MapOptions, emit: (event: ProgressEvent) => void): Promise<OpOutcome>;
  mount(mapPath: string, choice: MountChoice): Promise<MountView>;
  /**
   * Open a LUKS map with its passphrase: a filesystem inside is mounted; a PV inside stays open
   * and its LVs are offered with the maps (`opened` names the mapping, `note` says so).
   */
  unlock(
    mapPath: string,
    passphrase: string,
    choice: MountChoice,
  ): Promise<MountView | { opened: string; note: string }>;
  /** Close the LUKS volumes the session opened that nothing uses any more; their names. */
  closeOpened(): Promise<string[]>;
  /** Where a map is mounted unless another place is chosen: `<run dir>/mnt/<map name>`. */
  mountTarget(mapPath: string): string;
  /** The filesystem types this kernel mounts from a block device, for content the probe does not know. */
  mountableFilesystems(): string[];
  /** Re-read the top of the tree (after coming back from a shell). */
  listTree(mountpoint: string): string[];
  unmount(mount: MountView): Promise<void>;
  /** Maps, mounts and loop devices of these sources that exist now (said when the app is left). */
  leftovers(paths: string[], options: MapOptions): Promise<Leftover[]>;
  /** Where a raw copy of a container goes by default: `<name>.raw` beside it. */
  convertTarget(path: string): string;
  /** Checks a raw copy at `target` before it is made (a TuiError says why not); the free-space check. */
  planConvert(path: string, target: string): ConvertPlan;
  /** qemu-img convert to `<target>.part`, renamed when complete; aborting stops it and removes the part. */
  convert(plan: ConvertPlan, onProgress: (percent: number) => void, signal: AbortSignal): Promise<void>;
  /** Why overlay mode cannot be used for `path` here (no nbd, no qemu-img, not an image file); undefined when it can. */
  overlayProblem(path: string): string | undefined;
  /** Where the overlay over `path` goes by default: `<image>.overlay.qcow2` beside the image. */
  overlayTarget(path: string): string;
  /** Checks an overlay at `target` over `path` before it is made (a TuiError says why not). */
  planOverlay(path: string, target: string): OverlayView;
  /** `qemu-img create` of the planned overlay (a TuiError when it fails; nothing is left). */
  createOverlay(overlay: OverlayView): Promise<void>;
  /**
   * Commit the overlay into its image, discard it, or keep it; refused (a TuiError, the overlay
   * kept) while it is still connected. Returns the sentence saying what was done.
   */
  endOverlay(overlay: OverlayView, end: OverlayEnd): Promise<string>;
}

/** A qcow2 overlay over an image: the app's source while overlay mode is on. */
export interface OverlayView {
  /** The overlay file (absolute): writes go here. */
  path: string;
  /** The image it is over (absolute): only ever read. */
  image: string;
  /** The image's format as qemu names it (`raw`, `qcow2`…). */
  format: string;
}

export type OverlayEnd = 'commit' | 'discard' | 'keep';

export interface ConvertPlan {
  source: string;
  /** qemu's name of the source's format. */
  format: string;
  /** Absolute path of the copy. */
  target: string;
  space: { ok: boolean; text: string };
}

/** What is still there of one source when the app is left. */
export interface Leftover {
  /** The source as the app opened it. */
  path: string;
  /** Map names. */
  maps: string[];
  /** Our LV maps on the source or its maps (a whole-disk PV's on its loop): `kpartx -d` removes them first. */
  lvMaps?: string[];
  /** The loop backend's maps are loop devices themselves. */
  backend: 'dm' | 'loop';
  mounts: { map: string; mountpoint: string }[];
  /** The image's loop device, while it is bound. */
  loop?: string;
  /** Commands that take it all down, in order. */
  removeWith: string[];
}

/** Raised by engine adapters for a failure the user should read as one sentence. */
export class TuiError extends Error {
  override name = 'TuiError';
}
