/**
 * GNU getopt_long semantics, as glibc gives them to the C kpartx: short options may be bundled
 * (`-av`), an option argument may be attached (`-p-part`) or be the next word whatever it looks
 * like (`-p -part`), operands may come before options (they are moved behind, "permutation")
 * unless POSIXLY_CORRECT is set, and `--` ends the options. Parsing stops at the first error,
 * whose message is worded like glibc's.
 */

export interface LongOption {
  name: string;
  hasArg: boolean;
  /** Short letter it reports as (must not clash with real short options). */
  key: string;
}

export interface ParsedOption {
  key: string;
  arg?: string;
}

export type GetoptResult =
  | { ok: true; options: ParsedOption[]; operands: string[] }
  | { ok: false; message: string };

export interface GetoptSpec {
  /** Program name used in error messages. */
  program: string;
  /** Short options, `x:` for one that takes an argument. */
  shortOptions: string;
  longOptions?: LongOption[];
  /** Stop at the first operand (POSIXLY_CORRECT). */
  posixlyCorrect?: boolean;
}

function shortTable(spec: string): Map<string, boolean> {
  const table = new Map<string, boolean>();
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i]!;
    if (c === ':') continue;
    table.set(c, spec[i + 1] === ':');
  }
  return table;
}

export function getopt(args: readonly string[], spec: GetoptSpec): GetoptResult {
  const shorts = shortTable(spec.shortOptions);
  const longs = spec.longOptions ?? [];
  const options: ParsedOption[] = [];
  const operands: string[] = [];
  const fail = (message: string): GetoptResult => ({ ok: false, message: `${spec.program}: ${message}` });

  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = word.slice(2, eq === -1 ? undefined : eq);
      const exact = longs.find((o) => o.name === name);
      const candidates = exact ? [exact] : longs.filter((o) => o.name.startsWith(name));
      if (candidates.length === 0) return fail(`unrecognized option '${word}'`);
      if (candidates.length > 1) {
        const names = candidates.map((o) => `'--${o.name}'`).join(' ');
        return fail(`option '${word}' is ambiguous; possibilities: ${names}`);
      }
      const option = candidates[0]!;
      if (!option.hasArg) {
        if (eq !== -1) return fail(`option '--${option.name}' doesn't allow an argument`);
        options.push({ key: option.key });
      } else if (eq !== -1) {
        options.push({ key: option.key, arg: word.slice(eq + 1) });
      } else if (i + 1 < args.length) {
        options.push({ key: option.key, arg: args[++i]! });
      } else {
        return fail(`option '--${option.name}' requires an argument`);
      }
      continue;
    }
    if (!word.startsWith('-') || word === '-') {
      if (spec.posixlyCorrect) {
        operands.push(...args.slice(i));
        break;
      }
      operands.push(word);
      continue;
    }
    for (let j = 1; j < word.length; j++) {
      const letter = word[j]!;
      const takesArg = shorts.get(letter);
      if (takesArg === undefined) return fail(`invalid option -- '${letter}'`);
      if (!takesArg) {
        options.push({ key: letter });
        continue;
      }
      if (j + 1 < word.length) {
        options.push({ key: letter, arg: word.slice(j + 1) });
      } else if (i + 1 < args.length) {
        options.push({ key: letter, arg: args[++i]! });
      } else {
        return fail(`option requires an argument -- '${letter}'`);
      }
      break;
    }
  }
  return { ok: true, options, operands };
}
