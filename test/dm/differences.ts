/**
 * Every deliberate difference between kpartx-tui and the C kpartx that the differential suite may
 * see, in one place (the README lists the same). A difference the suite finds that is not listed
 * here fails it.
 */
export type Field = 'stdout' | 'stderr' | 'status' | 'tables' | 'uuids' | 'nodes' | 'loops';

export interface KnownDifference {
  /** Scenario ids (see differential.dmtest.ts) the difference shows up in. */
  scenarios: string[];
  fields: Field[];
  why: string;
}

export const KNOWN_DIFFERENCES: KnownDifference[] = [
  {
    scenarios: ['nosync-add'],
    fields: ['nodes'],
    why:
      'Without udev, -n still gets /dev/mapper/<name> nodes: we create them ourselves. The C tool ' +
      'leaves node creation to udev with -n, so without udev its maps have no /dev/mapper node.',
  },
  {
    scenarios: ['conflict-add'],
    fields: ['stdout', 'stderr', 'status', 'tables', 'uuids', 'nodes', 'loops'],
    why:
      'A same-named map that is not ours makes -a change nothing (all-or-nothing) and say so; the C ' +
      'tool creates the other maps. A map without UUID is reported as a conflict, never taken over. ' +
      'The loop this run attached for the image is released again.',
  },
  {
    scenarios: ['busy-delete'],
    fields: ['stdout', 'stderr', 'tables', 'uuids', 'nodes', 'loops'],
    why:
      '-d reports a busy map with what holds it and still removes the unused ones; the C tool stops ' +
      'at the first busy map. The image loop stays while a map uses it.',
  },
  {
    scenarios: ['force-delete-substring'],
    fields: ['stdout', 'tables', 'uuids', 'nodes'],
    why: '-d -f compares device numbers exactly: a map on 7:10 is not a map on 7:1 (C: substring match).',
  },
  {
    scenarios: ['update-foreign'],
    fields: ['stdout', 'stderr', 'tables', 'uuids', 'nodes'],
    why: '-u never removes a same-named map without a kpartx UUID; it says it is not ours.',
  },
  {
    scenarios: ['readonly'],
    fields: ['tables'],
    why:
      'Maps on a read-only loop device are read-only: after -ar IMAGE attached the loop read-only, a ' +
      'later -a IMAGE reloads read-only tables; the C tool loads read-write tables on the read-only loop.',
  },
  {
    scenarios: ['rename-delimiter'],
    fields: ['nodes'],
    why:
      'A rename without udev moves the /dev/mapper node; the C tool leaves the old node behind and ' +
      'makes the new one only on a later resume.',
  },
  {
    scenarios: ['cross-delete-c-loop'],
    fields: ['stderr', 'loops'],
    why:
      '-d IMAGE detaches only a loop kpartx-tui attached itself (marked in its loop name); a loop the ' +
      'C tool or the user attached is kept and -v says so. The C tool detaches whatever loop is bound ' +
      'to the image, also one the user set up with losetup.',
  },
  {
    scenarios: ['mangled-refused'],
    fields: ['stderr', 'status', 'loops'],
    why:
      'A map name libdevmapper cannot mangle (mangled and unmangled characters mixed, or mangled ' +
      'twice) is refused when the maps are planned, before anything changes: one line per name, ' +
      'exit status 1, and the loop attached for the image is released. The C tool tries each map, ' +
      'prints libdevmapper\'s errors and "create/reload failed", exits with the count and leaves ' +
      'the loop attached.',
  },
  {
    scenarios: ['tableless-delete'],
    fields: ['stdout', 'tables', 'uuids', 'nodes'],
    why:
      "-d removes the parent's maps that have no live table (left by a run killed between " +
      'creating a map and resuming it), recognised by their UUID part<N>-<parent uuid> alone; the ' +
      'C tool skips them silently and exits 0.',
  },
  {
    scenarios: ['mapper-file'],
    fields: ['stdout', 'stderr', 'status', 'tables', 'uuids', 'nodes', 'loops'],
    why:
      'Something that is not a device node at /dev/mapper/<name> (a regular file, a directory, a ' +
      'symlink that does not lead to the map) is never replaced or removed: -a refuses the whole ' +
      'run, naming the path, and releases the loop it attached. The C tool creates the maps ' +
      'anyway, without that node (libdevmapper: "A non-block device file ... is already present"), ' +
      'and its -d then deletes the file.',
  },
];

export function isKnown(scenario: string, field: Field): KnownDifference | undefined {
  return KNOWN_DIFFERENCES.find((d) => d.scenarios.includes(scenario) && d.fields.includes(field));
}
