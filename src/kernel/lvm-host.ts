/**
 * What the host's lvm2 does on its own when a PV appears: its udev rule, lvm.conf's
 * global/event_activation and whether udev runs. Read from files only; lvm2 is never run.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { LvmHostFacts } from './types.js';

const RULE_DIRS = ['/etc/udev/rules.d', '/run/udev/rules.d', '/usr/lib/udev/rules.d', '/lib/udev/rules.d'];
const RULE_NAMES = ['69-lvm.rules', '69-dm-lvm.rules', '69-dm-lvm-metad.rules'];

/** `event_activation = 0` in lvm.conf's global section turns it off; anything else leaves it on. */
export function eventActivationFrom(conf: string): boolean {
  const lines = conf.split('\n').map((line) => line.replace(/#.*/, '').trim());
  const set = lines
    .map((line) => /^event_activation\s*=\s*(\d+)/.exec(line)?.[1])
    .filter((v) => v !== undefined);
  return set.length === 0 || set.at(-1) !== '0';
}

export function lvmHostFacts(): LvmHostFacts {
  let rule: string | null = null;
  for (const dir of RULE_DIRS) {
    for (const name of RULE_NAMES) {
      const path = `${dir}/${name}`;
      if (!rule && existsSync(path)) {
        try {
          if (readFileSync(path, 'utf8').includes('pvscan')) rule = path;
        } catch {
          // unreadable: not counted
        }
      }
    }
  }
  let conf = '';
  try {
    conf = readFileSync('/etc/lvm/lvm.conf', 'utf8');
  } catch {
    conf = '';
  }
  return { rule, eventActivation: eventActivationFrom(conf), udev: existsSync('/run/udev/control') };
}
