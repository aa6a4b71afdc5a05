/**
 * Whether the host's lvm2 would activate a guest VG by itself when its PV partition appears.
 * lvm2's udev rule (69-lvm.rules) runs `pvscan --cache … --autoactivation event` and then
 * `vgchange -aay` for a loop device with a backing file (a `change` event) whose content is
 * LVM2_member, when lvm.conf's global/event_activation is 1 (the default). For a dm map it does so
 * only when libdevmapper flagged the map as a primary source (DM_UDEV_PRIMARY_SOURCE_FLAG, sent in
 * the uevent's DM_COOKIE); kpartx-tui's ioctls send no cookie, so its dm maps are skipped. Hence
 * only the loop backend's partition loops, and an image's own loop when its whole disk is a PV, can
 * make the host's lvm2 activate (and, with a VG named like one of the host's, confuse) the guest
 * VG: that gets a warning.
 */
import type { LvmHostFacts } from '../machine.js';

export function autoActivationWarning(
  facts: LvmHostFacts,
  via: 'dm' | 'loop',
  pvMapNames: readonly string[],
): string | undefined {
  if (via !== 'loop' || !facts.rule || !facts.eventActivation || !facts.udev || pvMapNames.length === 0)
    return undefined;
  return `${pvMapNames.join(', ')} hold${pvMapNames.length === 1 ? 's' : ''} an LVM PV and become${pvMapNames.length === 1 ? 's' : ''} a loop device: the host's lvm2 (${facts.rule}, event_activation=1) may activate its VG by itself; set event_activation = 0 in lvm.conf or use device-mapper maps (--backend dm) to avoid it`;
}

/**
 * cryptsetup opens LUKS through libdevmapper, which does send the cookie that flags the mapping as
 * a primary source: with udev running, lvm2's rule installed and event activation on, the host's
 * lvm2 may activate the VG on the PV inside as soon as it is opened.
 */
export function luksActivationWarning(facts: LvmHostFacts, luksName: string): string | undefined {
  if (!facts.rule || !facts.eventActivation || !facts.udev) return undefined;
  return `${luksName} is opened by cryptsetup, whose device-mapper map udev sees as a new PV: the host's lvm2 (${facts.rule}, event_activation=1) may activate the VG inside by itself; set event_activation = 0 in lvm.conf to avoid it`;
}

/**
 * A PV on an image's whole disk is the image's own loop device, which that rule sees as soon as it
 * is attached, whichever backend maps the LV: the host's lvm2 may activate the VG on it by itself.
 */
export function wholeDiskActivationWarning(
  facts: LvmHostFacts,
  loops: readonly string[],
): string | undefined {
  if (!facts.rule || !facts.eventActivation || !facts.udev || loops.length === 0) return undefined;
  const one = loops.length === 1;
  return `${loops.join(', ')} hold${one ? 's' : ''} an LVM PV on the whole disk and ${one ? 'is a loop device' : 'are loop devices'}: the host's lvm2 (${facts.rule}, event_activation=1) may activate its VG by itself; set event_activation = 0 in lvm.conf to avoid it`;
}
