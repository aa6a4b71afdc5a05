/**
 * The C kpartx's usage text, byte for byte, except the first line: the C tool prints the
 * multipath-tools version there, we print our own name and version.
 */
import { readFileSync } from 'node:fs';

const USAGE_BODY = [
  'Usage:',
  '  kpartx [-a|-d|-u|-l] [-r] [-p] [-f] [-g] [-s|-n] [-v] wholedisk',
  '\t-a add partition devmappings',
  '\t-r devmappings will be readonly',
  '\t-d del partition devmappings',
  '\t-u update partition devmappings',
  '\t-l list partitions devmappings that would be added by -a',
  '\t-p set device name-partition number delimiter',
  '\t-g force GUID partition table (GPT)',
  '\t-f force devmap create',
  '\t-v verbose',
  '\t-n nosync mode. Return before the partitions are created',
  "\t-s sync mode (Default). Don't return until the partitions are created",
];

/** Package version, read only when the usage text is actually printed. */
export function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function usageText(version = packageVersion()): string {
  return `${[`kpartx-tui v${version}`, ...USAGE_BODY].join('\n')}\n`;
}
