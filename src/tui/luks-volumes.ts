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

export function createLuksVolumes(host: Machine) {
  /** What the session opened, by the opened device's path. */
  const opened = new Map<string, LuksOpened>();

  return {
    /**
     * Open the LUKS volume on `mapPath` (a partition map) as `<map>-luks` and check that it holds
     * a filesystem to mount; anything else is closed again and said.
     */
    async open(mapPath: string, passphrase: string, readOnly: boolean): Promise<LuksOpened> {
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
      opened.set(volume.path, volume);
      const inside = probeOpened(host, volume);
      if (inside && !inside.mountable) {
        await this.release(volume.path);
        throw new LuksSessionError(
          inside.type === 'LVM2_member'
            ? `${kernelName}: the LUKS volume holds ${describeContent(inside)}; the app does not map LVs inside LUKS yet: use kpartx-tui mount IMAGE:N/${inside.volumeGroup ?? 'VG'}/LV`
            : `${kernelName}: the LUKS volume holds ${describeContent(inside)}, not a filesystem the kernel mounts directly; closed again`,
        );
      }
      return volume;
    },
    /** Close what the session opened as `path` (after its unmount); undefined when not ours. */
    async release(path: string): Promise<string | undefined> {
      const volume = opened.get(path);
      if (!volume) return undefined;
      await closeLuks(host, volume);
      opened.delete(path);
      return volume.kernelName;
    },
  };
}
