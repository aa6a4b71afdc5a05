/** Mounts: /proc/self/mountinfo for what is mounted, mount(2)/umount2(2) to change it. */
import { readFileSync } from 'node:fs';
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, mount, umount2 } from './libc.js';
import { parseDevNo } from './sysfs.js';
import type { MountApi, MountEntry } from './types.js';

export const MOUNTINFO = '/proc/self/mountinfo';
const UMOUNT_NOFOLLOW = 8;

/** mountinfo escapes space, tab, newline and backslash as `\ooo` octal; decode them (as UTF-8 bytes). */
export function unescapeMountField(field: string): string {
  if (!field.includes('\\')) return field;
  const bytes: number[] = [];
  const raw = Buffer.from(field, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const octal = raw.toString('latin1', i + 1, i + 4);
    if (raw[i] === 0x5c && /^[0-7]{3}$/.test(octal)) {
      bytes.push(Number.parseInt(octal, 8));
      i += 3;
    } else {
      bytes.push(raw[i]!);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * One mountinfo line: `id parent maj:min root mountpoint options [optional…] - fstype source super`.
 * Returns undefined for a malformed line.
 */
export function parseMountinfoLine(line: string): MountEntry | undefined {
  const fields = line.split(' ');
  const dash = fields.indexOf('-', 6);
  if (fields.length < 10 || dash < 0 || dash + 3 > fields.length) return undefined;
  const devno = parseDevNo(fields[2]);
  if (!devno) return undefined;
  return {
    source: unescapeMountField(fields[dash + 2]!),
    target: unescapeMountField(fields[4]!),
    fstype: unescapeMountField(fields[dash + 1]!),
    options: fields[5]!,
    devno,
  };
}

export function parseMountinfo(text: string): MountEntry[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map(parseMountinfoLine)
    .filter((entry): entry is MountEntry => entry !== undefined);
}

export function createMountApi(mountinfo = MOUNTINFO): MountApi {
  return {
    list: () => parseMountinfo(readFileSync(mountinfo, 'utf8')),
    // Foreign images never get set-uid programs or device nodes honoured, nor programs run unless asked.
    mount: (source, target, fstype, options) =>
      mount(
        source,
        target,
        fstype,
        MS_NOSUID | MS_NODEV | (options.exec ? 0 : MS_NOEXEC) | (options.readOnly ? MS_RDONLY : 0),
        options.data || null,
      ),
    unmount: (target) => umount2(target, UMOUNT_NOFOLLOW),
  };
}
