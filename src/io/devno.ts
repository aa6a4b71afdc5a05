/** Block device numbers: the kernel's major:minor pair and the dev_t it is packed in. */
export interface DevNo {
  major: number;
  minor: number;
}

export const formatDevNo = (d: DevNo): string => `${d.major}:${d.minor}`;

export const sameDevNo = (a: DevNo, b: DevNo): boolean => a.major === b.major && a.minor === b.minor;

/** Split a Linux dev_t (glibc's encoding: 12-bit major, 20-bit minor, split around the low byte). */
export function splitDevT(rdev: bigint): DevNo {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}
