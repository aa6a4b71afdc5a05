/**
 * How kpartx names partition maps and tags them with UUIDs. Pure string rules, shared by the CLI
 * listing, the planner and the TUI preview, so every surface shows exactly the names `-a` creates.
 */
import type { DevNo } from '../io/devno.js';

/** device-mapper's name buffer is 128 bytes including the terminating NUL. */
export const DM_NAME_MAX_BYTES = 127;

/** Fixed suffix of the UUID kpartx invents for a parent that has no dm UUID of its own. */
const NONDM_UUID_PREFIX = 'devnode_';
const NONDM_UUID_SUFFIX = '_Wh5pYvM';

/**
 * The last path component exactly as typed (no symlink resolution): `/dev/disk/by-id/wwn-x` gives
 * `wwn-x`. This is the map-name base for every parent that is not a device-mapper device.
 */
export function lastPathComponent(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Without `-p`: `p` when the base name ends in a digit (`loop0p1`, `nvme0n1p1`), else nothing (`sda1`). */
export function defaultDelimiter(mapName: string): string {
  const last = mapName.charCodeAt(mapName.length - 1);
  return last >= 0x30 && last <= 0x39 ? 'p' : '';
}

/** `-p S` wins even when S is empty; otherwise the digit rule applies. */
export function resolveDelimiter(mapName: string, explicit: string | undefined): string {
  return explicit ?? defaultDelimiter(mapName);
}

/** The partition map name as `-l` prints it: base + delimiter + number, `/` kept. */
export function partitionName(mapName: string, delimiter: string, number: number): string {
  return `${mapName}${delimiter}${number}`;
}

/**
 * The name device-mapper is given: every `/` after the first character becomes `!` (a `/` in
 * first position is left alone, as the C tool does).
 */
export function dmName(name: string): string {
  if (name.length <= 1) return name;
  return name[0] + name.slice(1).replaceAll('/', '!');
}

/**
 * Bytes a device-mapper name keeps as they are. libdevmapper writes every other byte as `\xNN`
 * (udev's rule for node names): `loop0 x1` lives in the kernel, and under /dev/mapper, as
 * `loop0\x20x1`.
 */
function isPlainDmByte(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) ||
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    '#+-.:=@_'.includes(String.fromCharCode(byte))
  );
}

const BACKSLASH = 0x5c;
const LOWER_X = 0x78;

export type MangleResult = { ok: true; name: string } | { ok: false; problem: string };

/**
 * A name as libdevmapper's default ("auto") mangling hands it to the kernel, so the C kpartx,
 * dmsetup and kpartx-tui name the same map the same way: each byte outside `[0-9A-Za-z#+-.:=@_]`
 * becomes `\xNN` (lower-case hex), and a name that already holds `\xNN` sequences is taken as
 * mangled and kept. Like libdevmapper, a name mixing both (`a\x20 b`), one that looks mangled twice
 * (`\x5cx`), or a `\x` with fewer than two characters after it is refused.
 */
export function mangleDmName(name: string): MangleResult {
  const mixed: MangleResult = {
    ok: false,
    problem: 'it mixes mangled (\\xNN) and unmangled characters, or is mangled improperly',
  };
  if (name.includes('\\x5cx')) return { ok: false, problem: 'it looks mangled more than once (\\x5cx)' };
  const bytes = Buffer.from(name, 'utf8');
  const out: number[] = [];
  let sawMangled = false;
  let mangled = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === BACKSLASH && bytes[i + 1] === LOWER_X) {
      if (bytes.length - i < 4 || mangled) return mixed;
      out.push(...bytes.subarray(i, i + 4));
      i += 3;
      sawMangled = true;
    } else if (isPlainDmByte(byte)) {
      out.push(byte);
    } else {
      if (sawMangled) return mixed;
      out.push(...Buffer.from(`\\x${byte.toString(16).padStart(2, '0')}`, 'latin1'));
      mangled = true;
    }
  }
  return { ok: true, name: Buffer.from(out).toString('utf8') };
}

/** A kernel map name as libdevmapper reports it (`loop0\x20x1` is `loop0 x1`), for messages. */
export function unmangleDmName(kernelName: string): string {
  if (!kernelName.includes('\\x')) return kernelName;
  const bytes = Buffer.from(kernelName, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const hex = bytes.toString('latin1', i + 2, i + 4);
    if (bytes[i] === BACKSLASH && bytes[i + 1] === LOWER_X && /^[0-9a-fA-F]{2}$/.test(hex)) {
      out.push(Number.parseInt(hex, 16));
      i += 3;
    } else {
      out.push(bytes[i]!);
    }
  }
  return Buffer.from(out).toString('utf8');
}

export type KernelNameResult =
  | { ok: true; dmName: string; kernelName: string }
  | { ok: false; problem: string };

/**
 * Everything between a partition map name and the kernel: `/` becomes `!` (dmName), then the
 * result is mangled (mangleDmName) and must fit device-mapper's 127 bytes. A `/` left in first
 * place cannot be a device-mapper name at all (libdevmapper takes it for a path).
 */
export function kernelDmName(name: string): KernelNameResult {
  const mapped = dmName(name);
  if (mapped.includes('/')) return { ok: false, problem: 'device-mapper names cannot contain "/"' };
  const mangled = mangleDmName(mapped);
  if (!mangled.ok) return { ok: false, problem: `device-mapper cannot take this name: ${mangled.problem}` };
  if (!fitsDmName(mangled.name)) {
    const bytes = Buffer.byteLength(mangled.name);
    return {
      ok: false,
      problem:
        mangled.name === mapped
          ? 'partition map name is longer than device-mapper allows (127 bytes)'
          : `partition map name is longer than device-mapper allows (127 bytes; ${bytes} once mangled as ${mangled.name})`,
    };
  }
  return { ok: true, dmName: mapped, kernelName: mangled.name };
}

/** UUID for a parent without a dm UUID: stable, derived from its device number in decimal. */
export function nonDmUuid(devno: DevNo): string {
  return `${NONDM_UUID_PREFIX}${devno.major}:${devno.minor}${NONDM_UUID_SUFFIX}`;
}

/** The parent UUID partition UUIDs derive from: the dm UUID when there is one, else the devnode form. */
export function parentUuid(dmUuid: string | undefined, devno: DevNo): string {
  return dmUuid ? dmUuid : nonDmUuid(devno);
}

/** Partition map UUID: `part<N>-<parent uuid>`. */
export function partitionUuid(number: number, parent: string): string {
  return `part${number}-${parent}`;
}

/**
 * Ownership test of a partition map UUID: `part<digits>-<parent uuid>`. Returns the partition
 * number, or null when the map is not a kpartx partition of that parent.
 */
export function partitionNumberOf(uuid: string, parent: string): number | null {
  const match = /^part(\d+)-(.*)$/s.exec(uuid);
  if (!match || match[2] !== parent) return null;
  return Number(match[1]);
}

/** True when device-mapper would accept this name length. */
export function fitsDmName(name: string): boolean {
  return Buffer.byteLength(name, 'utf8') <= DM_NAME_MAX_BYTES;
}
