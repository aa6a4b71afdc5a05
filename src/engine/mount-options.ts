/**
 * What a read-only mount tells a filesystem so that it writes nothing at all. Mounted read-only on
 * a writable device, ext3/ext4, xfs and btrfs replay a dirty journal or log first, which writes
 * to the image; on a read-only device they refuse to mount instead. Their own options skip the
 * replay: the mount then shows the filesystem as it was last written in place.
 */

/**
 * mount(2) data strings to try in turn for a read-only mount of `fstype`; `['']` when the type
 * has no replay to skip. btrfs spells it `rescue=nologreplay` since Linux 5.9 and only
 * `nologreplay` before (later kernels reject the old spelling).
 */
export function noReplayOptions(fstype: string): string[] {
  switch (fstype) {
    case 'ext3':
    case 'ext4':
      return ['noload'];
    case 'xfs':
      return ['norecovery'];
    case 'btrfs':
      return ['rescue=nologreplay', 'nologreplay'];
    default:
      return [''];
  }
}
