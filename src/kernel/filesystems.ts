/**
 * Whether this kernel can mount a filesystem type: built in or loaded (/proc/filesystems), or a
 * module it can load (/lib/modules/<release>/kernel/fs/…/<type>.ko*). Asked before a mount is tried,
 * so the app can say so rather than fail after trying.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';

/** Types in /proc/filesystems (`nodev` ones included: they are never asked for). */
function registered(): Set<string> | undefined {
  try {
    const text = readFileSync('/proc/filesystems', 'utf8');
    return new Set(text.split('\n').map((line) => line.trim().split(/\s+/).pop() ?? ''));
  } catch {
    return undefined;
  }
}

/** Module names (without .ko, .ko.xz, .ko.zst…) under the running kernel's fs/ directory. */
function loadable(root = `/lib/modules/${release()}/kernel/fs`): Set<string> | undefined {
  const names = new Set<string>();
  try {
    for (const entry of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
      const name = entry.split('/').pop() ?? '';
      const match = /^(.+?)\.ko(?:\.\w+)?$/.exec(name);
      if (match?.[1]) names.add(match[1].replaceAll('-', '_'));
    }
  } catch {
    return undefined;
  }
  return names;
}

/** true: it can be mounted here; false: neither registered nor loadable; undefined: cannot tell. */
export function filesystemSupported(fstype: string): boolean | undefined {
  const known = registered();
  if (known?.has(fstype)) return true;
  const modules = loadable();
  if (modules?.has(fstype.replaceAll('-', '_'))) return true;
  return known === undefined && modules === undefined ? undefined : false;
}
