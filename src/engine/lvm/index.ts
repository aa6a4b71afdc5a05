/**
 * LVM2 read without lvm2 or device-mapper: labels, metadata areas and their text, volume groups
 * assembled from the PVs found, and logical volumes readable as Disks. Pure: bytes in, data out.
 */
export {
  type AssembledPv,
  type AssembledVolumeGroup,
  assembleVolumeGroups,
  type LvmAssembly,
  type MissingPv,
  type PvCandidate,
} from './assemble.js';
export { type ConfigScalar, type ConfigSection, type ConfigValue, parseConfigText } from './config-text.js';
export { lvmCrc } from './crc.js';
export { DEFAULT_LVM_LIMITS, LvmError, type LvmLimits } from './errors.js';
export {
  type LinearTarget,
  type LvMap,
  type LvMapResult,
  type LvTarget,
  mapLogicalVolume,
  type PvPlace,
  type StripedTarget,
} from './extents.js';
export { findPvLabel, type PvLabel } from './label.js';
export { lvDisk, type OpenLvResult, openLogicalVolume } from './lv-disk.js';
export { type MdaHeader, type RawLocation, readMdaHeader } from './mda-header.js';
export {
  type LogicalVolumeMetadata,
  type OtherSegment,
  type PhysicalVolumeMetadata,
  parseVolumeGroupMetadata,
  type RawSection,
  type SegmentArea,
  type SegmentKind,
  type SegmentMetadata,
  type StripedSegment,
  type VolumeGroupMetadata,
  volumeGroupFromConfig,
} from './metadata.js';
export { type MetadataText, readMetadataText } from './metadata-text.js';
export { type MetadataAreaRead, type PhysicalVolumeRead, readPhysicalVolume } from './physical-volume.js';
export { type DiskArea, formatLvmUuid, type PvHeader, parsePvHeader, uuidKey } from './pv-header.js';
