/**
 * `kpartx-tui passwd SOURCE[:N] USER`: reset a password inside a guest for scripts and for a
 * terminal. It mounts the partition read-only first and plans the change there (so a wrong user
 * name, a missing shadow or a Windows volume fail before anything is written), then mounts it
 * read-write, plans again on what is there now, writes the one shadow line (and `shadow-` as
 * passwd(1) does), unmounts and unmaps. `--list` prints the system and its accounts instead (never
 * a hash). Signals are held throughout: every mount and map is taken back, and the message says
 * whether the line was written. No React or Ink here.
 */
import { errorText } from '../engine/errors.js';
import { deferSignals, InterruptedError } from '../engine/signals.js';
import { luksProblem } from '../engine/workflow/luks.js';
import { keptOverlayText, overlayProblem } from '../engine/workflow/overlay.js';
import { displayText } from '../io/display-text.js';
import { listGuestAccounts } from '../recovery/accounts.js';
import { openDirectoryTree } from '../recovery/directory-tree.js';
import { findSystem } from '../recovery/find-system.js';
import { checkNewPassword } from '../recovery/hash-password.js';
import { schemeName } from '../recovery/hash-policy.js';
import {
  commitPasswordReset,
  type PasswordResetRequest,
  type PreparedReset,
  preparePasswordReset,
} from '../recovery/reset.js';
import { type AccountView, accountView, type SystemView, systemView } from '../recovery/summary.js';
import {
  luksOperand,
  type MountFaceDeps,
  MountFaceError,
  mountSource,
  processDeps,
  splitSource,
  unmountRecord,
} from './main.js';
import { splitOperandSource } from './overlay-mount.js';
import { askNewPassword, nextStdinLine } from './password-input.js';
import type { MountRecord } from './record.js';

export const PASSWD_USAGE = `usage: kpartx-tui passwd SOURCE[:N|:VG/LV|:N/VG/LV] USER [--overlay[=PATH]] [--unlock] [--clear-forced-change] [--clear-expiry] [--json]
       kpartx-tui passwd SOURCE[:N|:VG/LV|:N/VG/LV] --list [--json]
       (SOURCE:VG/LV --with IMAGE [--with IMAGE]...: a VG whose PVs are on several images)
The new password is read twice from the terminal (not shown), or once from stdin when stdin is not a terminal.
Over LUKS the passphrase comes first: asked once on the terminal, or stdin's first line (the new password is then the second).`;

interface PasswdArgs {
  operand: string;
  user?: string;
  list: boolean;
  json: boolean;
  unlock: boolean;
  clearForcedChange: boolean;
  clearAccountExpiry: boolean;
  /** `--overlay[=PATH]`: write into an overlay over the image (PATH, or '' for the default) and keep it. */
  overlay?: string;
  /** `--with IMAGE`: other images holding PVs of the VG of a `SOURCE:VG/LV` operand. */
  with: string[];
}

function parse(args: string[]): PasswdArgs | string {
  const parsed: PasswdArgs = {
    operand: '',
    list: false,
    json: false,
    unlock: false,
    clearForcedChange: false,
    clearAccountExpiry: false,
    with: [],
  };
  const operands: string[] = [];
  let options = true;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (options && arg === '--') options = false;
    else if (options && (arg === '--with' || arg.startsWith('--with='))) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i];
      if (!value) return '--with needs an IMAGE';
      parsed.with.push(value);
    } else if (options && arg === '--list') parsed.list = true;
    else if (options && arg === '--json') parsed.json = true;
    else if (options && arg === '--unlock') parsed.unlock = true;
    else if (options && arg === '--clear-forced-change') parsed.clearForcedChange = true;
    else if (options && arg === '--clear-expiry') parsed.clearAccountExpiry = true;
    else if (options && (arg === '--overlay' || arg.startsWith('--overlay=')))
      parsed.overlay = arg.slice('--overlay='.length);
    else if (options && arg.startsWith('-') && arg !== '-') return `unknown option ${arg}`;
    else operands.push(arg);
  }
  const wanted = parsed.list ? 1 : 2;
  if (operands.length !== wanted)
    return parsed.list ? 'give one SOURCE[:N] with --list' : 'give SOURCE[:N] and USER';
  parsed.operand = operands[0]!;
  if (!parsed.list) parsed.user = operands[1]!;
  return parsed;
}

export interface PasswdDeps extends MountFaceDeps {
  /** The new password: stdin's first line, or asked twice on the terminal. */
  readPassword(user: string): Promise<string>;
}

/**
 * Mount, look (or write), and always take the mount back. On an overlay (`overlay` given) the
 * overlay is kept when `look` succeeded (it holds the change) and discarded when it failed.
 */
async function withMount<T>(
  operand: string,
  rw: boolean,
  deps: MountFaceDeps,
  look: (record: MountRecord) => T,
  overlay?: string,
  others: readonly string[] = [],
): Promise<T> {
  const record = await mountSource(
    operand,
    { rw, ...(overlay !== undefined ? { overlay } : {}), ...(others.length > 0 ? { with: others } : {}) },
    deps,
  );
  let result: T;
  try {
    result = look(record);
  } catch (error) {
    await unmountRecord(record, deps, () => {}, 'discard').catch(() => {});
    throw error;
  }
  await unmountRecord(record, deps, () => {}, 'keep');
  return result;
}

interface Listing {
  system: SystemView | null;
  accounts: AccountView[];
}

function listOn(record: MountRecord): Listing {
  const tree = openDirectoryTree(record.mountpoint);
  const found = findSystem(tree);
  if (!found) throw new MountFaceError(`${record.source}: no Linux or Windows system on this filesystem`);
  return {
    system: systemView(found, record.mountpoint),
    accounts: found.kind === 'linux' ? listGuestAccounts(tree).map(accountView) : [],
  };
}

function listingText(listing: Listing): string {
  const lines: string[] = [];
  const { system } = listing;
  if (system) {
    const parts = [system.label];
    if (system.hostname) parts.push(`host ${system.hostname}`);
    if (system.selinux) parts.push(`SELinux ${system.selinux}`);
    lines.push(`System: ${parts.join(' · ')}`);
    if (system.notice) lines.push(system.notice);
  }
  if (listing.accounts.length > 0) {
    const rows = listing.accounts.map((a) => [
      a.name,
      String(a.uid),
      a.shell,
      a.password,
      a.lastChange ?? '-',
      a.expiry ?? '-',
    ]);
    const header = ['USER', 'UID', 'SHELL', 'PASSWORD', 'CHANGED', 'EXPIRY'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const row of [header, ...rows])
      lines.push(
        row
          .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      );
  }
  return `${lines.map(displayText).join('\n')}\n`;
}

function previewText(prepared: PreparedReset): string {
  const { report, hashing } = prepared;
  const lines = [
    `System: ${prepared.system.label}`,
    `/etc/shadow line ${report.line} (${report.user}):`,
    `  before: ${report.before}`,
    `  after:  ${report.after}`,
    `Hash: ${schemeName(hashing.scheme)} (${hashing.implementation})`,
    ...hashing.notes.map((note) => `  ${note}`),
    ...report.warnings.map((warning) => `warning: ${warning}`),
    ...prepared.warnings.map((warning) => `warning: ${warning}`),
  ];
  return `${lines.map(displayText).join('\n')}\n`;
}

export async function passwdMain(args: string[], deps: PasswdDeps): Promise<number> {
  const parsed = parse(args);
  if (typeof parsed === 'string') {
    deps.stderr(`kpartx-tui passwd: ${parsed}\n${PASSWD_USAGE}\n`);
    return 2;
  }
  const fail = (error: unknown): number => {
    const message = errorText(error);
    if (parsed.json) deps.stdout(`${JSON.stringify({ error: `passwd: ${message}` })}\n`);
    else deps.stderr(`kpartx-tui passwd: ${displayText(message)}\n`);
    return error instanceof InterruptedError ? error.exitCode : 1;
  };
  // Both mounts (the look, then the write) open LUKS with the one passphrase, asked once.
  let passphrase: Promise<string> | undefined;
  const ask = deps.readPassphrase;
  const face: PasswdDeps = ask ? { ...deps, readPassphrase: (what) => (passphrase ??= ask(what)) } : deps;
  try {
    if (parsed.list) {
      const listing = await withMount(parsed.operand, false, face, listOn, undefined, parsed.with);
      deps.stdout(parsed.json ? `${JSON.stringify(listing)}\n` : listingText(listing));
      return 0;
    }
    const user = parsed.user!;
    // Overlay mode is refused (no nbd, no qemu-utils) before anything is asked or mounted.
    if (parsed.overlay !== undefined) {
      const { source } = splitOperandSource(parsed.operand, splitSource);
      const problem = overlayProblem(deps.machine, source);
      if (problem) throw new MountFaceError(`${source}: ${problem}`);
    }
    // Over LUKS, the passphrase before the new password (stdin: its first line, then the password).
    const encrypted = face.readPassphrase ? await luksOperand(parsed.operand, deps) : undefined;
    if (encrypted) {
      const problem = luksProblem(deps.machine);
      if (problem) throw new MountFaceError(`${encrypted}: ${problem}`); // before asking anything
      await face.readPassphrase!(encrypted);
    }
    const password = await deps.readPassword(user);
    checkNewPassword(password);
    const request: PasswordResetRequest = {
      user,
      password,
      unlock: parsed.unlock,
      clearForcedChange: parsed.clearForcedChange,
      clearAccountExpiry: parsed.clearAccountExpiry,
    };
    let written = false;
    const result = await deferSignals(
      async (interrupted) => {
        // A look first, read-only: a wrong user or a system we cannot write fails here, unwritten.
        await withMount(
          parsed.operand,
          false,
          face,
          (record) => preparePasswordReset(record.mountpoint, request, deps.machine.hostCrypt()),
          undefined,
          parsed.with,
        );
        interrupted.throwIfAborted();
        return await withMount(
          parsed.operand,
          true,
          face,
          (record) => {
            const prepared = preparePasswordReset(record.mountpoint, request, deps.machine.hostCrypt());
            interrupted.throwIfAborted();
            const report = commitPasswordReset(prepared, deps.machine.xattrs);
            written = true;
            return { prepared, report, record };
          },
          parsed.overlay,
          parsed.with,
        );
      },
      () =>
        written
          ? `the new password was written${parsed.overlay !== undefined ? ' to the overlay, which is kept' : ''}; the mount and maps were taken back`
          : 'nothing was written; the mount and maps were taken back',
    );
    const { prepared, report, record } = result;
    if (parsed.json) {
      deps.stdout(
        `${JSON.stringify({
          source: parsed.operand,
          partition: record.partition,
          user,
          system: prepared.system.label,
          line: prepared.report.line,
          before: prepared.report.before,
          after: prepared.report.after,
          scheme: prepared.hashing.scheme,
          implementation: prepared.hashing.implementation,
          notes: prepared.hashing.notes,
          warnings: [...prepared.report.warnings, ...prepared.warnings, ...report.notes],
          selinux: report.selinux,
          autorelabel: report.autorelabel !== null,
          overlay: record.overlay?.path ?? null,
        })}\n`,
      );
    } else {
      deps.stdout(previewText(prepared));
      for (const note of report.notes) deps.stdout(`${displayText(note)}\n`);
      deps.stdout(
        `${displayText(`${user}: password reset on ${parsed.operand} (partition ${record.partition}); /etc/shadow- keeps the previous file; unmounted and unmapped`)}\n`,
      );
      if (record.overlay) deps.stdout(`${displayText(keptOverlayText(record.overlay))}\n`);
    }
    return 0;
  } catch (error) {
    return fail(error);
  }
}

/** The real process: the machine, stdout/stderr, and the password from stdin or the terminal. */
export function processPasswdDeps(): PasswdDeps {
  return {
    ...processDeps(),
    readPassword: async (user) => {
      if (!process.stdin.isTTY) return nextStdinLine();
      const tty = process.stdin as NodeJS.ReadStream;
      return askNewPassword({ input: tty, output: process.stderr }, user);
    },
  };
}
