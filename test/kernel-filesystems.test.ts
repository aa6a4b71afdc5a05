/** Whether this host's kernel can mount a filesystem type, read from /proc/filesystems and its modules. */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { filesystemSupported, mountableFilesystems } from '../src/kernel/filesystems.js';

describe.skipIf(!existsSync('/proc/filesystems'))('filesystemSupported on this host', () => {
  it('knows what /proc/filesystems lists and refuses a type no kernel has', () => {
    const listed = readFileSync('/proc/filesystems', 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('nodev'))
      .map((line) => line.trim());
    for (const type of listed) expect(filesystemSupported(type)).toBe(true);
    expect(filesystemSupported('no_such_filesystem_xyz')).toBe(false);
  });

  it('lists the block filesystems it registers, never a nodev one or fuseblk', () => {
    const lines = readFileSync('/proc/filesystems', 'utf8').split('\n').filter(Boolean);
    const types = mountableFilesystems();
    expect(types).toEqual([...types].sort());
    for (const line of lines) {
      const type = line.trim().split(/\s+/).pop()!;
      if (line.startsWith('nodev') || type === 'fuseblk') expect(types).not.toContain(type);
      else expect(types).toContain(type);
    }
  });
});
