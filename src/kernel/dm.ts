/**
 * device-mapper through ioctls on /dev/mapper/control (the wire format lives in dm-ioctl.ts).
 * Every failure is a KernelError naming the dm command, the map and errno.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { lazyBuiltin } from '../io/builtin.js';
import { type DevNo, formatDevNo } from '../io/devno.js';
import {
  DM_IOCTL_SIZE,
  DmCommand,
  type DmCommandName,
  DmFlag,
  type DmIoctlHeader,
  type DmListEntry,
  decodeDeps,
  decodeDmHeader,
  decodeNameList,
  decodeTargets,
  decodeVersionList,
  dmRequest,
  encodeDmIoctl,
  encodeRename,
  encodeTargets,
} from './dm-ioctl.js';
import { ioctl, ioctlAsync, O_RDWR, open } from './libc.js';
import { type DmApi, type DmMapInfo, type DmTarget, KernelError } from './types.js';

// Asked only before loading dm_mod, which `kpartx -l` never does.
const os = lazyBuiltin<typeof import('node:os')>('node:os');

export const DM_CONTROL = '/dev/mapper/control';
const ENXIO = 6;

interface Call {
  name?: string;
  uuid?: string;
  devno?: DevNo;
  flags?: number;
  targetCount?: number;
  payload?: Buffer;
  /** Initial buffer size for commands that return data; doubled while the kernel says it is full. */
  size?: number;
}

const infoFrom = (h: DmIoctlHeader): DmMapInfo => ({
  name: h.name,
  uuid: h.uuid,
  devno: h.devno,
  openCount: h.openCount,
  readOnly: (h.flags & DmFlag.READONLY) !== 0,
  suspended: (h.flags & DmFlag.SUSPEND) !== 0,
});

/** Whole-map linear tables and friends, over one open control descriptor. */
export class DeviceMapper implements DmApi {
  constructor(private readonly fd: number) {}

  /** One ioctl; grows the buffer and retries while the kernel reports DM_BUFFER_FULL. */
  private call(command: DmCommandName, subject: string, c: Call): { header: DmIoctlHeader; buf: Buffer } {
    let size = c.size ?? DM_IOCTL_SIZE + (c.payload?.length ?? 0);
    for (;;) {
      const buf = encodeDmIoctl({ ...c, size });
      ioctl(this.fd, dmRequest(DmCommand[command]), buf, `DM_${command}`, subject);
      const header = decodeDmHeader(buf);
      if (header.flags & DmFlag.BUFFER_FULL && size < 64 * 1024 * 1024) {
        size *= 2;
        continue;
      }
      return { header, buf };
    }
  }

  /**
   * A call that changes a map. Most return at once and run inline; `offThread` ones run on a
   * worker thread because they wait in the kernel (see remove).
   */
  private async change(command: DmCommandName, subject: string, c: Call, offThread = false) {
    const buf = encodeDmIoctl({ ...c, size: DM_IOCTL_SIZE + (c.payload?.length ?? 0) });
    const request = dmRequest(DmCommand[command]);
    if (offThread) await ioctlAsync(this.fd, request, buf, `DM_${command}`, subject);
    else ioctl(this.fd, request, buf, `DM_${command}`, subject);
    return decodeDmHeader(buf);
  }

  /** Like call, but "no such map" (ENXIO) is undefined instead of an error. */
  private lookup(command: DmCommandName, subject: string, c: Call) {
    try {
      return this.call(command, subject, c);
    } catch (error) {
      if (error instanceof KernelError && error.errno === ENXIO) return undefined;
      throw error;
    }
  }

  version(): [number, number, number] {
    return this.call('VERSION', 'device-mapper', {}).header.version;
  }

  targetTypes(): string[] {
    const { header, buf } = this.call('LIST_VERSIONS', 'device-mapper', { size: 8192 });
    return decodeVersionList(buf, header).map((t) => t.name);
  }

  list(): DmListEntry[] {
    const { header, buf } = this.call('LIST_DEVICES', 'device-mapper', { flags: DmFlag.UUID, size: 16384 });
    return decodeNameList(buf, header);
  }

  info(name: string): DmMapInfo | undefined {
    const r = this.lookup('DEV_STATUS', name, { name });
    return r && infoFrom(r.header);
  }

  infoByDevNo(devno: DevNo): DmMapInfo | undefined {
    const r = this.lookup('DEV_STATUS', formatDevNo(devno), { devno });
    return r && infoFrom(r.header);
  }

  infoByUuid(uuid: string): DmMapInfo | undefined {
    const r = this.lookup('DEV_STATUS', uuid, { uuid });
    return r && infoFrom(r.header);
  }

  /** The active table as loaded (`dmsetup table`). */
  table(name: string): DmTarget[] {
    const { header, buf } = this.call('TABLE_STATUS', name, { name, flags: DmFlag.STATUS_TABLE, size: 4096 });
    return decodeTargets(buf, header);
  }

  /** The targets' status lines (`dmsetup status`). */
  status(name: string): DmTarget[] {
    const { header, buf } = this.call('TABLE_STATUS', name, { name, size: 4096 });
    return decodeTargets(buf, header);
  }

  /** Device numbers the active table uses. */
  deps(name: string): DevNo[] {
    const { header, buf } = this.call('TABLE_DEPS', name, { name, size: 4096 });
    return decodeDeps(buf, header);
  }

  /** Create, load and resume; a map that cannot be loaded or resumed is removed again. */
  async create(
    name: string,
    uuid: string,
    table: DmTarget[],
    options: { readOnly: boolean },
  ): Promise<DevNo> {
    const created = await this.change('DEV_CREATE', name, { name, uuid });
    try {
      await this.reload(name, table, options);
      await this.resume(name, { noFlush: false });
    } catch (error) {
      await this.remove(name, { noFlush: true }).catch(() => {
        // The original failure is what the caller needs to see.
      });
      throw error;
    }
    return created.devno;
  }

  async reload(name: string, table: DmTarget[], options: { readOnly: boolean }): Promise<void> {
    await this.change('TABLE_LOAD', name, {
      name,
      flags: options.readOnly ? DmFlag.READONLY : 0,
      targetCount: table.length,
      payload: encodeTargets(table),
    });
  }

  /** DM_DEV_SUSPEND without the suspend flag: make the inactive table live. */
  async resume(name: string, options: { noFlush: boolean }): Promise<void> {
    const flags = options.noFlush ? DmFlag.SKIP_LOCKFS | DmFlag.NOFLUSH : 0;
    await this.change('DEV_SUSPEND', name, { name, flags });
  }

  async rename(from: string, to: string): Promise<void> {
    await this.change('DEV_RENAME', from, { name: from, payload: encodeRename(to, false) });
  }

  /**
   * Removal waits for an RCU grace period (tens of ms under emulation), so it runs on a worker
   * thread: the event loop stays free and removals of several maps overlap.
   */
  async remove(name: string, _options: { noFlush: boolean }): Promise<void> {
    await this.change('DEV_REMOVE', name, { name }, true);
  }
}

function tryOpenControl(): number | null {
  try {
    return open(DM_CONTROL, O_RDWR);
  } catch {
    return null;
  }
}

let cached: DeviceMapper | null | undefined;

/**
 * device-mapper, or null when /dev/mapper/control cannot be opened even after `modprobe dm_mod`
 * (or the kernel does not speak interface version 4).
 */
export function openDeviceMapper(): DeviceMapper | null {
  if (cached !== undefined) return cached;
  let fd = tryOpenControl();
  // Loading the module is worth a try only where the running kernel has a module tree (not in
  // many containers and minimal VMs, where the spawn alone would cost every run a noticeable delay).
  if (fd === null && existsSync(`/lib/modules/${os().release()}/modules.dep`)) {
    // child_process is required here, not at load: the CLI's listing path loads this module too.
    const { spawnSync } = createRequire(import.meta.url)(
      'node:child_process',
    ) as typeof import('node:child_process');
    spawnSync('modprobe', ['dm_mod'], { stdio: 'ignore', timeout: 10_000 });
    fd = tryOpenControl();
  }
  if (fd === null) {
    cached = null;
    return cached;
  }
  const dm = new DeviceMapper(fd);
  try {
    dm.version();
    cached = dm;
  } catch {
    cached = null;
  }
  return cached;
}
