/**
 * Every test run gets its own run directory (locks, mountpoints): the suites take locks and mount
 * partitions, and must not leave lock files in, or depend on, the machine's /run/kpartx-tui. Set
 * before the test workers start, so they and the processes they spawn inherit it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'kpartx-tui-run-'));
  process.env.KPARTX_TUI_RUN_DIR = join(dir, 'run');
  return () => rmSync(dir, { recursive: true, force: true });
}
