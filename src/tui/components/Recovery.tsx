/**
 * The recovery screens inside the mount session: the system line under a mount, the accounts list,
 * the masked password entry, the planned change and what was written. Lines are built by pure
 * functions (cut or wrapped to the width), so every screen is tested from plain data.
 */
import { Box, Text } from 'ink';
import type { AccountView, SystemView } from '../../recovery/summary.js';
import { padEnd, truncate, visibleWindow } from '../format.js';
import type { MountView } from '../model.js';
import type { RecoveryState } from '../state/recovery-reducer.js';
import type { Theme } from '../theme.js';

/** `text` cut into lines of at most `width` at spaces, later lines indented by `indent`. */
export function wrap(text: string, width: number, indent = '  '): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const candidate = line ? `${line} ${word}` : lines.length ? `${indent}${word}` : word;
    if (candidate.length <= width || !line) line = candidate;
    else {
      lines.push(line);
      line = `${indent}${word}`;
    }
  }
  if (line) lines.push(line);
  return lines.map((l) => truncate(l, width));
}

/** What the mount holds, for under the mount line; at most `rows` lines. */
export function systemLines(system: SystemView | null, error: string | null, width: number, rows: number) {
  if (error) return wrap(`System: not looked at: ${error}`, width).slice(0, rows);
  if (!system) return [];
  if (system.kind === 'linux') {
    const facts = [
      system.label,
      system.hostname ? `host ${system.hostname}` : '',
      system.selinux ? `SELinux ${system.selinux}` : '',
    ].filter(Boolean);
    return [
      ...wrap(`System: ${facts.join(' · ')}`, width),
      truncate('  a: accounts and password reset', width),
    ].slice(0, rows);
  }
  const state = system.hibernated ? ' · hibernated: it stays read-only' : '';
  return [
    ...wrap(`System: ${system.label}${state}`, width),
    ...wrap(`  ${system.notice ?? ''}`, width, '  '),
  ].slice(0, rows);
}

export function accountRow(account: AccountView, width: number): string {
  return truncate(
    [
      padEnd(account.name, 10),
      account.uid.toString().padStart(5),
      padEnd(account.shell, 14),
      padEnd(account.password, 18),
      padEnd(account.lastChange ?? '-', 11),
      account.expiry ?? '-',
    ].join(' '),
    width,
  );
}

/** The highlighted account in full: what the columns may cut. */
export function accountDetail(account: AccountView): string {
  return [
    `${account.name}: password ${account.password}`,
    account.lastChange ? `last changed ${account.lastChange}` : '',
    account.expiry ?? 'nothing expires',
    account.resettable ? '' : `not reset here: ${account.notResettableWhy}`,
  ]
    .filter(Boolean)
    .join('; ');
}

const masked = (value: string) => '•'.repeat([...value].length);

interface RecoveryProps {
  state: RecoveryState;
  mount: MountView;
  width: number;
  height: number;
  theme: Theme;
}

function Accounts({ state, mount, width, height, theme }: RecoveryProps) {
  const rows = Math.max(1, height - 5);
  const selected = state.accounts[state.index];
  const { from, to } = visibleWindow(state.accounts.length, state.index, rows);
  const where = mount.readOnly ? 'mounted read-only: w remounts read-write' : 'mounted read-write';
  return (
    <Box flexDirection="column" width={width}>
      <Text bold wrap="truncate">
        {truncate(`Accounts of ${state.system?.label ?? mount.source} · ${where}`, width)}
      </Text>
      <Text dimColor wrap="truncate">
        {truncate(
          `  ${['user'.padEnd(10), 'uid'.padStart(5), 'shell'.padEnd(14), 'password'.padEnd(18), 'changed'.padEnd(11), 'expires'].join(' ')}`,
          width,
        )}
      </Text>
      {state.accounts.slice(from, to).map((account, i) => {
        const selected = from + i === state.index;
        return (
          <Text key={account.name} inverse={selected} wrap="truncate">
            {`${selected ? '›' : ' '} ${accountRow(account, width - 2)}`}
          </Text>
        );
      })}
      {state.accounts.length === 0 ? <Text dimColor> (no accounts in /etc/passwd)</Text> : null}
      {selected ? (
        <Text dimColor wrap="truncate">
          {wrap(accountDetail(selected), width).slice(0, 2).join('\n')}
        </Text>
      ) : null}
      {state.error ? (
        <Text color={theme.bad} wrap="wrap">
          {state.error}
        </Text>
      ) : null}
    </Box>
  );
}

function PasswordEntry({ state, width, theme }: RecoveryProps) {
  const account = state.accounts.find((a) => a.name === state.user);
  const field = (label: string, value: string, active: boolean) => (
    <Text>
      <Text bold={active}>{label}</Text> {masked(value)}
      {active ? <Text inverse> </Text> : null}
    </Text>
  );
  return (
    <Box flexDirection="column" width={width}>
      <Text bold wrap="truncate">
        {truncate(`New password for ${state.user} (${account?.password ?? 'password'})`, width)}
      </Text>
      {field('New password: ', state.first, state.entry === 'first' && !state.busy)}
      {field('Again:        ', state.second, state.entry === 'second' && !state.busy)}
      {state.busy ? <Text color={theme.muted}>Hashing…</Text> : null}
      {state.error ? (
        <Text color={theme.bad} wrap="wrap">
          {state.error}
        </Text>
      ) : null}
      <Text dimColor wrap="wrap">
        {truncate('Nothing is written until you confirm on the next screen. Esc goes back.', width * 2)}
      </Text>
    </Box>
  );
}

/** The planned change, for the confirmation; at most `rows` lines (the options line always shown). */
export function confirmLines(state: RecoveryState, width: number): { text: string; tone?: 'warn' }[] {
  const p = state.preview;
  if (!p) return [];
  const yesNo = (on: boolean) => (on ? 'yes' : 'no');
  const lines: { text: string; tone?: 'warn' }[] = [
    { text: truncate(`Reset ${p.user}'s password: line ${p.line} of /etc/shadow changes`, width) },
    { text: truncate(`  before: ${p.before}`, width) },
    { text: truncate(`  after:  ${p.after}`, width) },
    ...wrap(`Hash: ${p.scheme} by ${p.implementation} (${p.reason})`, width).map((text) => ({ text })),
    ...p.notes.flatMap((n) =>
      wrap(`  note: ${n}`, width, '    ').map((text) => ({ text, tone: 'warn' as const })),
    ),
    ...p.warnings.flatMap((w) =>
      wrap(`  ! ${w}`, width, '    ').map((text) => ({ text, tone: 'warn' as const })),
    ),
    {
      text: truncate(
        `u unlock: ${yesNo(state.flags.unlock)}  f clear forced change: ${yesNo(state.flags.clearForcedChange)}  e clear account expiry: ${yesNo(state.flags.clearAccountExpiry)}`,
        width,
      ),
    },
    ...wrap(
      'y writes /etc/shadow (the old one kept as /etc/shadow-, mode, owner and SELinux label kept); n goes back.',
      width,
    ).map((text) => ({ text })),
  ];
  return lines;
}

function ResetConfirm({ state, width, height, theme }: RecoveryProps) {
  const lines = confirmLines(state, width);
  // The options and the y/n lines stay; notes and warnings give way when the screen is short.
  const keep = lines.slice(-3);
  const room = height - keep.length - (state.error ? 1 : 0) - (state.busy ? 1 : 0);
  const shown = [...lines.slice(0, -3).slice(0, Math.max(1, room)), ...keep];
  return (
    <Box flexDirection="column" width={width}>
      {shown.map((line) => (
        <Text key={line.text} color={line.tone === 'warn' ? theme.warn : undefined} wrap="truncate">
          {line.text}
        </Text>
      ))}
      {state.busy ? <Text color={theme.muted}>Working…</Text> : null}
      {state.error ? (
        <Text color={theme.bad} wrap="truncate">
          {truncate(state.error, width)}
        </Text>
      ) : null}
    </Box>
  );
}

export function doneLines(state: RecoveryState, width: number): string[] {
  const d = state.done;
  if (!d) return [];
  return [
    truncate(`✓ ${d.user}'s password is written: ${d.shadow}`, width),
    truncate(`  previous file kept as ${d.backup}`, width),
    truncate(`  kept: ${d.kept}`, width),
    ...(d.autorelabel
      ? wrap(`  the label could not be kept: ${d.autorelabel} makes the guest relabel at boot`, width)
      : []),
    ...d.notes.flatMap((n) => wrap(`  note: ${n}`, width, '    ')),
    ...wrap(
      'Only that line of /etc/shadow changed (and /etc/shadow- now holds the old file). Unmount and unmap as usual: x on the mount screen. Enter goes back to the accounts.',
      width,
    ),
  ];
}

export default function Recovery(props: RecoveryProps) {
  const { state, width, theme } = props;
  switch (state.view) {
    case 'accounts':
      return <Accounts {...props} />;
    case 'password':
      return <PasswordEntry {...props} />;
    case 'confirm':
      return <ResetConfirm {...props} />;
    case 'done':
      return (
        <Box flexDirection="column" width={width}>
          {doneLines(state, width).map((line, i) => (
            <Text key={line} color={i === 0 ? theme.ok : undefined} bold={i === 0} wrap="truncate">
              {line}
            </Text>
          ))}
        </Box>
      );
    default:
      return null;
  }
}
