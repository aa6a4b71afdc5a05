/**
 * A read-only view of a block device or an image file. Readers only ever see this, so the same
 * parsing code runs on real devices, on sparse multi-terabyte images and on in-memory bytes.
 */
export interface Disk {
  /** Logical sector size in bytes (512 for image files unless the caller says otherwise). */
  readonly sectorSize: number;
  /** Size in bytes. */
  readonly size: number;
  /**
   * Bytes at `offset`. Near the end of the disk fewer bytes come back (none past the end); it never
   * throws for a range, only for a real I/O error.
   */
  readAt(offset: number, length: number): Uint8Array;
  /**
   * Optional: the bytes readAt would give for `into.length` bytes at `offset`, copied into `into`;
   * returns how many there were. Lets a hot path fill one buffer it owns instead of getting a new
   * one per read (allocating is most of the cost of a small read).
   */
  readInto?(into: Uint8Array, offset: number): number;
}
