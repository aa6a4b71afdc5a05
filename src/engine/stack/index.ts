/** The storage stack: container, table, partitions, volume groups, logical volumes, as data. */
export {
  containerAttach,
  lvAttach,
  NEEDS_NBD,
  PARTITION_MAP,
  partitionAttach,
  segmentTypeOf,
} from './attach.js';
export {
  type AddRefusal,
  containerAddRefusal,
  containerListNote,
  containerTitle,
  type OpenedLayer,
  openContainerLayer,
  sizeText,
} from './container.js';
export {
  describeVolumeGroups,
  type LvmLayers,
  lvmPlaces,
  type PlacedPvCandidate,
  type PvPlaceCandidate,
  readLvmAcrossSources,
  readLvmLayers,
  readPvCandidates,
} from './lvm.js';
export { findFilesystemSystem, NO_SYSTEM, type SystemFinding } from './system.js';
export { type StackParts, stackTree } from './tree.js';
export type {
  Attach,
  ContainerLayer,
  Extent,
  LogicalVolumeLayer,
  MissingPhysicalVolume,
  PhysicalVolumeLayer,
  StackNode,
  SystemLayer,
  VolumeGroupLayer,
} from './types.js';
export { windowDisk } from './window.js';
