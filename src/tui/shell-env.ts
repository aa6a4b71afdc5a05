/**
 * The environment a shell opened from the app gets: the user's, as the app was started with it,
 * not ours. The app's own process sets variables for itself (UV_THREADPOOL_SIZE in bin/) that must
 * not leak into the user's shell. Linux keeps the
 * environment a process was started with in /proc/self/environ, untouched by later changes to
 * process.env, so nothing has to be captured before those changes.
 */
import { readFileSync } from 'node:fs';

/** Variables the app sets for itself when the user did not, with the value it sets. */
export const OWN_VARIABLES: Record<string, string> = { UV_THREADPOOL_SIZE: '16' };

/** `NAME=value` entries separated by NUL bytes; the first of a repeated name wins, as for getenv. */
export function parseEnviron(bytes: Buffer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of bytes.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (!(name in env)) env[name] = entry.slice(eq + 1);
  }
  return env;
}

/**
 * The user's environment: the one this process started with; where /proc cannot say, the current
 * one without the variables the app set to its own values.
 */
export function userEnvironment(
  read: () => Buffer = () => readFileSync('/proc/self/environ'),
  current: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  try {
    return parseEnviron(read());
  } catch {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(current)) {
      if (value !== undefined && OWN_VARIABLES[name] !== value) env[name] = value;
    }
    return env;
  }
}
