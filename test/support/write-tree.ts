/** Lays a MemoryTreeSpec out on disk, so the same guest can be read from memory and from a directory. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MemoryTreeSpec } from './memory-tree.js';

export function writeTree(root: string, spec: MemoryTreeSpec): void {
  for (const [path, node] of Object.entries(spec)) {
    const target = join(root, path);
    mkdirSync(dirname(target), { recursive: true });
    if (typeof node === 'string' || Buffer.isBuffer(node)) writeFileSync(target, node);
    else if ('symlink' in node) symlinkSync(node.symlink, target);
    else if ('directory' in node) mkdirSync(target, { recursive: true });
    else execFileSync('mkfifo', [target]);
  }
}
