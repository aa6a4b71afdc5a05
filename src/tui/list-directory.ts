/** A directory's entries for path completion, links followed to tell directories apart. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DirEntry } from './path-completion.js';

export async function listDirectory(dir: string): Promise<DirEntry[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return Promise.all(
    entries.map(async (entry) => ({
      name: entry.name,
      directory:
        entry.isDirectory() || (entry.isSymbolicLink() && (await isDirectory(join(dir, entry.name)))),
    })),
  );
}

const isDirectory = (path: string) =>
  stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
