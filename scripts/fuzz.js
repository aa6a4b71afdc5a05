#!/usr/bin/env node
/**
 * Long fuzz run of every partition-table reader: the property test of test/tables-fuzz.test.ts
 * (mutated label fixtures and, when present, the util-linux corpus images) for a given time
 * instead of a few seconds, over every label fixture, printing iterations per second at the end.
 *
 *   npm run fuzz                                  # 60 seconds
 *   node scripts/fuzz.js --seconds 600 --seed 42
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] !== undefined ? Number(process.argv[at + 1]) : fallback;
}
const seconds = option('seconds', 60);
const seed = option('seed', Date.now() % 2 ** 31);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

console.log(`fuzz: ${seconds} s, seed ${seed}`);
const run = spawnSync('npx', ['vitest', 'run', 'test/tables-fuzz.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, FUZZ_SECONDS: String(seconds), FUZZ_SEED: String(seed) },
});
process.exitCode = run.status ?? 1;
