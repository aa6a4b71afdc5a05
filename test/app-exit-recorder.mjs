/**
 * Runs a command on this terminal as a login shell runs a job, and records how it ended: the tests
 * that close the terminal under the app cannot ask a shell that is gone with it.
 *
 *   node app-exit-recorder.mjs DIR MODE COMMAND [ARG...]
 *
 * DIR receives `pid` (the command's), `stderr` (its standard error, unless KEEP_STDERR=1 leaves
 * that on the terminal) and, once it has ended, `status` ({"code":…,"signal":…}). MODE says what
 * a hang-up of the terminal does to it:
 *   job       it is in the terminal's session, and the hang-up is passed on to it, as an
 *             interactive shell passes SIGHUP on to its jobs;
 *   detached  it runs in a session of its own (setsid): no SIGHUP reaches it, it only finds its
 *             reads ending and its writes failing.
 * After the command has ended the recorder stays, so the terminal keeps its last words for the
 * test to read, until it is hung up on itself.
 */
import { spawn } from 'node:child_process';
import { openSync, renameSync, writeFileSync } from 'node:fs';

const [dir, mode, command, ...args] = process.argv.slice(2);
const stderr = process.env.KEEP_STDERR === '1' ? 'inherit' : openSync(`${dir}/stderr`, 'w');
const child = spawn(command, args, { stdio: ['inherit', 'inherit', stderr], detached: mode === 'detached' });
writeFileSync(`${dir}/pid`, String(child.pid));

let hungUp = false;
let ended = false;
process.on('SIGHUP', () => {
  hungUp = true;
  if (mode === 'job' && !ended) child.kill('SIGHUP');
  if (ended) process.exit(0);
});
// A Ctrl-C typed while the app has the terminal in raw mode is a key, not a signal: nothing here.
process.on('SIGINT', () => {});

child.on('exit', (code, signal) => {
  ended = true;
  // Written whole, then renamed: the test never reads half a file.
  writeFileSync(`${dir}/status.tmp`, JSON.stringify({ code, signal }));
  renameSync(`${dir}/status.tmp`, `${dir}/status`);
  if (hungUp) process.exit(0);
  setInterval(() => {}, 60_000);
});
