/**
 * LUKS in the app's mount session: a mapped LUKS partition is offered like a filesystem; picking it
 * asks the passphrase, opens it through the same code as `kpartx-tui mount IMAGE:N` (luks.ts:
 * cryptsetup, `<map>-luks`, read-only unless a read-write mount is asked), and mounts what it
 * holds. The session closes what it opened when that mount is unmounted (or the mount fails).
 * No React here.
 */
import { basename } from 'node:path';
import type { Machine } from '../engine/machine.js';
import { unmangleDmName } from '../engine/names.js';
import {
  closeLuks,
  type LuksOpened,
  luksNames,
  luksProblem,
  openLuks,
  probeOpened,
} from '../engine/workflow/luks.js';
import { sameDevNo } from '../io/devno.js';
import { type ContentInfo, describeContent } from '../probe/index.js';

export class LuksSessionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LuksSessionError';
  }
}

/** Whether the session may offer a LUKS map here: device-mapper (dm-crypt) and cryptsetup. */
export function luksOffered(host: Machine, info: ContentInfo | null | undefined): boolean {
  return info?.type === 'crypto_LUKS' && luksProblem(host) === undefined;
}

/** What the session opened: the volume, and the partition map it is on. */
export interface SessionLuks {
  volume: LuksOpened;
  mapPath: string;
  /** What it holds: a filesystem (mounted next), or an LVM PV (its LVs are offered). */
  inside: ContentInfo | null;
}

export function createLuksVolumes(host: Machine) {
  /** What the session opened, by the opened device's path. */
  const opened = new Map<string, SessionLuks>();

  /** Mounted, or a device stacked on it (an LV map): not closed. */
  const busy = (volume: LuksOpened): boolean =>
    host.mounts
      .list()
      .some((m) => m.devno.major === volume.devno.major && m.devno.minor === volume.devno.minor) ||
    host.holders(volume.devno).length > 0;

  const api = {
    /**
     * Open the LUKS volume on `mapPath` (a partition map) as `<map>-luks`. A filesystem inside is
     * for the caller to mount, a PV inside keeps it open for its LVs; anything else is closed
     * again and said.
     */
    async open(mapPath: string, passphrase: string, readOnly: boolean): Promise<SessionLuks> {
      const problem = luksProblem(host);
      if (problem) throw new LuksSessionError(`${basename(mapPath)}: ${problem}`);
      const kernelName = basename(mapPath);
      const names = luksNames({ dmName: unmangleDmName(kernelName), kernelName });
      let volume: LuksOpened;
      try {
        volume = await openLuks(host, mapPath, names, { passphrase }, { readOnly });
      } catch (error) {
        // A cryptsetup cut short may still have left the mapping: never leave it open.
        await closeLuks(host, names).catch(() => undefined);
        throw new LuksSessionError(`${kernelName}: ${(error as Error).message}`);
      }
      const inside = probeOpened(host, volume);
      const entry = { volume, mapPath, inside };
      opened.set(volume.path, entry);
      if (inside && !inside.mountable && !(inside.type === 'LVM2_member' && inside.volumeGroup)) {
        await api.release(volume.path);
        throw new LuksSessionError(
          `${kernelName}: the LUKS volume holds ${describeContent(inside)}, not a filesystem the kernel mounts directly; closed again`,
        );
      }
      return entry;
    },
    /**
     * The volume the session opened on partition map `mapPath`, if any. One closed behind the
     * session's back (a clean-up or `kpartx -d` takes down our LUKS mappings) is forgotten.
     */
    openedOn(mapPath: string): SessionLuks | undefined {
      const entry = [...opened.values()].find((e) => e.mapPath === mapPath);
      if (!entry) return undefined;
      const now = host.dm?.info(entry.volume.kernelName);
      if (now && sameDevNo(now.devno, entry.volume.devno)) return entry;
      opened.delete(entry.volume.path);
      return undefined;
    },
    /** Close what the session opened as `path` (after its unmount); undefined when not ours. */
    async release(path: string): Promise<string | undefined> {
      const entry = opened.get(path);
      if (!entry) return undefined;
      await closeLuks(host, entry.volume);
      opened.delete(path);
      return entry.volume.kernelName;
    },
    /** Close every volume the session opened that nothing uses any more; their names. */
    async closeIdle(): Promise<string[]> {
      const closed: string[] = [];
      for (const [path, entry] of [...opened]) {
        if (busy(entry.volume)) continue;
        const name = await api.release(path);
        if (name) closed.push(name);
      }
      return closed;
    },
  };
  return api;
}
