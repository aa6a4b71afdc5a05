/**
 * The error every system call of the machine layer throws: what was attempted, on which device,
 * and the errno. Here on the ground floor so the engine can tell errors apart (EBUSY, EINVAL)
 * without importing the kernel layer.
 */

/** A failed system call, with what was attempted and on which device. */
export class KernelError extends Error {
  constructor(
    /** e.g. `DM_DEV_CREATE`, `LOOP_CONFIGURE`, `open`, `mount`. */
    readonly op: string,
    /** Device or map name the call was about. */
    readonly device: string,
    readonly errno: number,
    /** Symbolic errno (`EBUSY`), when known. */
    readonly code: string,
    message?: string,
  ) {
    super(message ?? `${device}: ${op} failed: ${code || `errno ${errno}`}`);
    this.name = 'KernelError';
  }
}
