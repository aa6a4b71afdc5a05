/** The LVM2 fixtures made by fixtures/make-lvm.sh: images per set and lvm2's recorded reports. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lvm2Reports } from '../lvm-compare.js';
import { loadXzImage, REPO } from './images.js';

export const LVM_FIXTURES_DIR = join(REPO, 'fixtures', 'lvm');

/** Each set: the images holding its PVs (by name, as the reports name their devices). */
export const LVM_FIXTURE_SETS = {
  linear: ['linear'],
  striped: ['striped-a', 'striped-b'],
  thin: ['thin'],
  wrapped: ['wrapped'],
} as const;
export type LvmFixtureSet = keyof typeof LVM_FIXTURE_SETS;

export const lvmFixtureImage = (name: string): Uint8Array =>
  loadXzImage(join(LVM_FIXTURES_DIR, `${name}.img.xz`));

export const lvmFixtureReports = (set: LvmFixtureSet): Lvm2Reports =>
  JSON.parse(readFileSync(join(LVM_FIXTURES_DIR, `${set}.lvm2.json`), 'utf8'));
