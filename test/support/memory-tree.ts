/**
 * An in-memory guest tree for the pure recovery tests: files, symlinks and directories by path.
 * Parent directories are implied. Like the mounted-directory reader, it never follows a link.
 */
import { type TreeEntry, TreeError, type TreeReader } from '../../src/recovery/tree.js';

export type MemoryNode = string | Buffer | { symlink: string } | { directory: true } | { fifo: true };
export type MemoryTreeSpec = Record<string, MemoryNode>;

const normalise = (path: string): string => `/${path.split('/').filter(Boolean).join('/')}`;

export function memoryTree(spec: MemoryTreeSpec, description = 'memory'): TreeReader {
  const nodes = new Map<string, MemoryNode>();
  nodes.set('/', { directory: true });
  for (const [rawPath, node] of Object.entries(spec)) {
    const path = normalise(rawPath);
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const dir = `/${parts.slice(0, i).join('/')}`;
      if (!nodes.has(dir)) nodes.set(dir, { directory: true });
    }
    nodes.set(path, node);
  }
  const at = (path: string): MemoryNode | undefined => nodes.get(path);
  const bytesOf = (node: MemoryNode): Buffer | null =>
    typeof node === 'string' ? Buffer.from(node, 'utf8') : Buffer.isBuffer(node) ? node : null;

  return {
    description,
    lstat(path: string): TreeEntry | null {
      const node = at(path);
      if (node === undefined) return null;
      if (typeof node === 'string' || Buffer.isBuffer(node))
        return { kind: 'file', size: bytesOf(node)!.length };
      if ('symlink' in node) return { kind: 'symlink', size: node.symlink.length };
      if ('directory' in node) return { kind: 'directory', size: 0 };
      return { kind: 'other', size: 0 };
    },
    readlink(path: string): string {
      const node = at(path);
      if (node && typeof node === 'object' && 'symlink' in node) return node.symlink;
      throw new TreeError(path, `${path}: not a symlink`);
    },
    readFile(path: string, maxBytes: number): Buffer {
      const node = at(path);
      const bytes = node === undefined ? null : bytesOf(node);
      if (!bytes) throw new TreeError(path, `${path}: not a regular file`);
      if (bytes.length > maxBytes) throw new TreeError(path, `${path}: more than ${maxBytes} bytes`);
      return bytes;
    },
    list(path: string): string[] {
      const prefix = path === '/' ? '/' : `${path}/`;
      return [...nodes.keys()]
        .filter((p) => p !== path && p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
        .map((p) => p.slice(prefix.length))
        .sort();
    },
  };
}
