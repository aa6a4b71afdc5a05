/**
 * How partition maps get made. Two backends implement this: device-mapper (linear maps under
 * /dev/mapper, the C kpartx's way) and loop (one loop device per partition, for kernels without
 * device-mapper). The CLI and the TUI only talk to this interface and turn its events into output.
 * Operations are asynchronous and emit each event as it happens, so a screen can show every map
 * the moment it exists.
 */
import type { DevNo } from '../io/devno.js';

export type BackendKind = 'dm' | 'loop';

/** The whole-disk device partitions are mapped from. */
export interface ParentDevice {
  /** Path as the user gave it, or `/dev/loopN` for an image file. */
  path: string;
  devno: DevNo;
  /** Size in 512-byte sectors. */
  sizeSectors: number;
  logicalSectorSize: number;
  /** The dm UUID partition UUIDs derive from: the parent's dm UUID or `devnode_MAJ:MIN_Wh5pYvM`. */
  uuid: string;
  /** Name partition map names start with: the dm name of a dm parent, else the path's last component. */
  mapName: string;
  /** Set when the operand was an image file. */
  image?: { file: string; loopAttachedByUs: boolean };
}

/** One map to create, fully decided by the planner. */
export interface PlannedMap {
  number: number;
  /** Name as `-l` prints it. */
  name: string;
  /** Name as the C tool hands it to libdevmapper and prints it (`/` after the first character becomes `!`). */
  dmName: string;
  /**
   * dmName as libdevmapper mangles it (`loop0 x1` becomes `loop0\x20x1`): the name the kernel
   * holds and the node under /dev/mapper, for both backends.
   */
  kernelName: string;
  /** `part<N>-<parent uuid>` */
  uuid: string;
  /** Absolute on the parent, 512-byte sectors. */
  start: number;
  size: number;
  /** Logical or nested partition (the C tool handles these in a second pass). */
  contained: boolean;
  readOnly: boolean;
}

export interface MapRequest {
  parent: ParentDevice;
  maps: PlannedMap[];
  readOnly: boolean;
  /** `-s` (default): wait for device nodes; `-n`: do not. */
  sync: boolean;
  /** When it aborts, `add` stops before the next map and rolls back what it made. */
  interrupted?: AbortSignal;
}

export interface RemoveRequest {
  parent: ParentDevice;
  /** `-f`: skip the ownership (UUID) check for a parent without dm UUID. */
  force: boolean;
  sync: boolean;
  /** Remove only the maps of these partition numbers (an umount takes back what its mount made). */
  only?: ReadonlySet<number>;
}

/** A map that exists now and belongs to the parent. */
export interface ExistingMap {
  name: string;
  number: number | null;
  /** `/dev/mapper/<name>` or the loop backend's documented path. */
  path: string;
  devno: DevNo;
  start: number;
  size: number;
  readOnly: boolean;
  openCount: number;
}

export type MapEvent =
  | { type: 'created' | 'reloaded'; map: PlannedMap; devno: DevNo; path: string; parentDevno: DevNo }
  | { type: 'renamed'; from: string; to: string; uuid: string }
  | { type: 'removed'; name: string; path: string }
  | { type: 'conflict'; name: string; reason: 'not-kpartx' | 'other-device' }
  | { type: 'not-removed'; name: string; reason: 'not-linear' | 'not-kpartx' | 'other-device' }
  | { type: 'busy'; name: string; holders: string[] }
  | {
      type: 'failed';
      name: string;
      op: 'create' | 'reload' | 'resume' | 'remove' | 'rename';
      message: string;
    }
  | { type: 'refused'; name: string; message: string }
  | { type: 'rolled-back'; name: string };

export type EmitEvent = (event: MapEvent) => void;

export interface OpResult {
  /** Counted failures: the C tool's exit status. */
  failures: number;
}

export interface MapBackend {
  readonly kind: BackendKind;
  /** Create missing maps, reload existing ones. All-or-nothing: a failure removes what this run made. */
  add(request: MapRequest, emit: EmitEvent): Promise<OpResult>;
  /** `add`, then remove this parent's maps for partitions that no longer exist. */
  update(request: MapRequest, emit: EmitEvent): Promise<OpResult>;
  /** Remove this parent's maps; busy ones are reported and kept, the others still removed. */
  remove(request: RemoveRequest, emit: EmitEvent): Promise<OpResult>;
  /** This parent's maps as they are now. */
  existing(parent: ParentDevice): ExistingMap[];
}
