/**
 * LUKS under `kpartx-tui mount`/`passwd` and the app's mount session: a partition (or its map)
 * holding LUKS1/2 is opened with the host's cryptsetup, read-only unless the mount is read-write,
 * as `<partition map>-luks`
 * (a name the host's own crypttab never uses), and closed again before the partition map goes.
 * dm-crypt needs device-mapper: without it, the refusal says so before anything is made.
 */

import { type DevNo, formatDevNo } from '../../io/devno.js';
import { type ContentInfo, probeContent } from '../../probe/index.js';
import type { DmTarget, LuksKey, Machine } from '../machine.js';
import { unmangleDmName } from '../names.js';

export const NO_DM_CRYPT = 'LUKS needs device-mapper (dm-crypt), which this kernel lacks';

/** What a mount opened: the name given to cryptsetup, the kernel's (mangled) name, the node. */
export interface LuksOpened {
  name: string;
  kernelName: string;
  path: string;
  devno: DevNo;
}

/** Why LUKS cannot be opened on this machine; undefined when it can. */
export function luksProblem(machine: Machine): string | undefined {
  if (!machine.deviceMapperPresent()) return NO_DM_CRYPT;
  return machine.crypt.missing();
}

/** `<map name>-luks`, from the partition map's dm name and its mangled kernel name. */
export function luksNames(map: { dmName: string; kernelName: string }): { name: string; kernelName: string } {
  return { name: `${map.dmName}-luks`, kernelName: `${map.kernelName}-luks` };
}

export class LuksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LuksError';
  }
}

/**
 * Open `device` as `names`. A map of that name that exists already is not ours: refused, untouched.
 * `attempting` is called just before cryptsetup runs, so a take-back knows to look for the map
 * even if cryptsetup was cut short.
 */
export async function openLuks(
  machine: Machine,
  device: string,
  names: { name: string; kernelName: string },
  key: LuksKey,
  options: { readOnly: boolean; attempting?: () => void },
): Promise<LuksOpened> {
  const dm = machine.dm;
  if (!dm) throw new LuksError(NO_DM_CRYPT);
  if (dm.info(names.kernelName))
    throw new LuksError(`${names.kernelName} exists already (not made by this mount); not opening over it`);
  options.attempting?.();
  try {
    await machine.crypt.open(device, names.name, key, { readOnly: options.readOnly });
  } catch (error) {
    throw new LuksError(`cryptsetup open failed: ${(error as Error).message}`);
  }
  const info = dm.info(names.kernelName);
  if (!info) throw new LuksError(`cryptsetup open left no map named ${names.kernelName}`);
  // cryptsetup's libdevmapper makes the node itself without udev, and udev does with it: either
  // way, make sure it is there before mounting it.
  await machine.nodes.created(names.kernelName, info.devno, { sync: true, like: device });
  return {
    ...names,
    path: `${machine.nodes.path}/${names.kernelName}`,
    devno: info.devno,
  };
}

/** Close what openLuks opened (or a cut-short open left), if it is still there. */
export async function closeLuks(
  machine: Machine,
  opened: { name: string; kernelName: string },
): Promise<boolean> {
  const info = machine.dm?.info(opened.kernelName);
  if (!info) return false;
  try {
    await machine.crypt.close(opened.kernelName);
  } catch (error) {
    throw new LuksError(`cryptsetup close ${opened.kernelName} failed: ${(error as Error).message}`);
  }
  await machine.nodes.removed(opened.kernelName, info.devno, { sync: true });
  return true;
}

/** cryptsetup's dm UUIDs begin so (`CRYPT-LUKS2-<volume uuid>-<name>`): a mapping it opened. */
const CRYPTSETUP_UUID_PREFIX = 'CRYPT-';

/** The device numbers a table's targets sit on (`7:1`; a crypt target's key text is never one). */
const devicesOf = (table: readonly DmTarget[]): string[] =>
  table.flatMap((t) => t.params.split(/\s+/).filter((word) => /^\d+:\d+$/.test(word)));

/**
 * The LUKS mappings of ours over these partition maps (`name` as the kernel has it): one named
 * `<map>-luks`, opened by cryptsetup (its UUID), on that map and nothing else, or left by a killed
 * cryptsetup without a table. A mapping the user opened under another name, or one over another
 * device, is never ours: it stays, and keeps the partition map busy.
 */
export function ourLuksOver(
  machine: Pick<Machine, 'dm' | 'nodes'>,
  maps: readonly { name: string; devno: DevNo }[],
): LuksOpened[] {
  const dm = machine.dm;
  if (!dm) return [];
  const found: LuksOpened[] = [];
  for (const map of maps) {
    const kernelName = `${map.name}-luks`;
    const info = dm.info(kernelName);
    if (!info?.uuid.startsWith(CRYPTSETUP_UUID_PREFIX)) continue;
    let table: DmTarget[];
    try {
      table = dm.table(kernelName);
    } catch {
      continue;
    }
    const devices = devicesOf(table);
    if (table.length > 0 && (devices.length === 0 || devices.some((d) => d !== formatDevNo(map.devno))))
      continue;
    found.push({
      name: unmangleDmName(kernelName),
      kernelName,
      path: `${machine.nodes.path}/${kernelName}`,
      devno: info.devno,
    });
  }
  return found;
}

/**
 * Close a mapping of ours found left behind (ourLuksOver): with cryptsetup as a mount closes it,
 * or, where cryptsetup is gone or the mapping has no table (a killed open), by removing the map.
 */
export async function closeLeftLuks(machine: Machine, luks: LuksOpened, sync: boolean): Promise<void> {
  const dm = machine.dm;
  if (!dm) throw new LuksError(NO_DM_CRYPT);
  const info = dm.info(luks.kernelName);
  if (!info) return;
  const tableless = dm.table(luks.kernelName).length === 0;
  if (!tableless && !machine.crypt.missing()) {
    await closeLuks(machine, luks);
    return;
  }
  await dm.remove(luks.kernelName, { noFlush: false });
  await machine.nodes.removed(luks.kernelName, info.devno, { sync });
}

/** What the opened volume holds, probed through its own device. */
export function probeOpened(machine: Machine, opened: LuksOpened): ContentInfo | null {
  const facts = machine.blockDevice(opened.path);
  const disk = machine.openDisk(opened.path, facts.sizeBytes, facts.logicalSectorSize);
  try {
    return probeContent(disk, 0, facts.sizeBytes);
  } finally {
    disk.close();
  }
}

/** The key to open with: `--key-file`, else the passphrase asked (stdin or the terminal). */
export async function luksKeyFor(
  what: string,
  keyFile: string | undefined,
  ask: ((what: string) => Promise<string>) | undefined,
): Promise<LuksKey> {
  if (keyFile) return { keyFile };
  if (ask) return { passphrase: await ask(what) };
  throw new LuksError(`${what}: LUKS needs a passphrase or --key-file`);
}

/** The opened volume as a Disk, to read what it holds (the caller closes it). */
export function openedDisk(machine: Machine, opened: LuksOpened) {
  const facts = machine.blockDevice(opened.path);
  return machine.openDisk(opened.path, facts.sizeBytes, facts.logicalSectorSize);
}
