/**
 * Path entry as a shell does it: `~` is the user's home, Tab completes from the file system. Pure:
 * the directory's entries are read by the container hook (the one effect) and handed in.
 */

/** One entry of a directory, as completion needs it. */
export interface DirEntry {
  name: string;
  /** A directory, or a link to one: completes with a trailing `/`. */
  directory: boolean;
}

export interface Completion {
  /** The field's new text (the typed text itself when nothing matched). */
  text: string;
  /** Every match when several share only a prefix (directories with a trailing `/`); else []. */
  candidates: string[];
}

/** `~` and `~/…` name the user's home; anything else (and `~user`) is left as typed. */
export function expandHome(path: string, home: string | undefined): string {
  if (!home) return path;
  if (path === '~') return home;
  if (path.startsWith('~/')) return `${home.replace(/\/+$/, '')}/${path.slice(2)}`;
  return path;
}

/** The directory whose entries complete `typed` (before `~` expansion): `''` is the working directory. */
export function completionDir(typed: string): string {
  const slash = typed.lastIndexOf('/');
  if (slash < 0) return '';
  return slash === 0 ? '/' : typed.slice(0, slash + 1);
}

function commonPrefix(names: string[]): string {
  let prefix = names[0] ?? '';
  for (const name of names) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}

/** Complete the last part of `typed` from the entries of its directory (see completionDir). */
export function completePath(typed: string, entries: DirEntry[]): Completion {
  // `~` alone is the home directory itself: on into it.
  if (typed === '~') return { text: '~/', candidates: [] };
  const dir = completionDir(typed);
  const stem = typed.slice(dir.length);
  // Hidden entries only when asked for, as shells do.
  const matches = entries
    .filter((e) => e.name.startsWith(stem) && (stem.startsWith('.') || !e.name.startsWith('.')))
    .filter((e) => e.name !== '.' && e.name !== '..')
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (matches.length === 0) return { text: typed, candidates: [] };
  if (matches.length === 1) {
    const only = matches[0]!;
    return { text: `${dir}${only.name}${only.directory ? '/' : ''}`, candidates: [] };
  }
  return {
    text: `${dir}${commonPrefix(matches.map((m) => m.name))}`,
    candidates: matches.map((m) => `${m.name}${m.directory ? '/' : ''}`),
  };
}

/** Rows of candidates shown under the path field at most. */
export const CANDIDATE_ROWS = 3;

/**
 * The candidates packed into at most `rows` lines of `width` columns, two spaces apart; what does
 * not fit is counted at the end (`+12 more`).
 */
export function candidateLines(candidates: string[], width: number, rows = CANDIDATE_ROWS): string[] {
  const lines: string[] = [];
  let line = '';
  for (let i = 0; i < candidates.length; i++) {
    const name = candidates[i]!;
    const joined = line ? `${line}  ${name}` : name;
    if ([...joined].length <= width) {
      line = joined;
      continue;
    }
    if (lines.length + 1 >= rows || !line) {
      // The last row: end it with the count of what is left, dropping names until that fits.
      const words = line ? line.split('  ') : [];
      let rest = candidates.length - i;
      let tail = `+${rest} more`;
      while (words.length > 0 && [...`${words.join('  ')}  ${tail}`].length > width) {
        words.pop();
        rest += 1;
        tail = `+${rest} more`;
      }
      lines.push(words.length > 0 ? `${words.join('  ')}  ${tail}` : tail.slice(0, width));
      return lines;
    }
    lines.push(line);
    line = name;
  }
  if (line) lines.push(line);
  return lines;
}
