/**
 * The write mode as the line under the title says it, on every screen: read-only (the `r` option
 * on), direct (off: writes go to the source itself), or overlay (writes go to a qcow2 file, the
 * image under it only read). Pure, so each wording is tested without drawing.
 */
import type { MapOptions, OverlayView } from './model.js';

const fileName = (path: string): string => path.split('/').pop() || path;

export function writeModeText(
  sourcePath: string | null,
  options: Pick<MapOptions, 'readOnly'>,
  overlay: OverlayView | null,
): string {
  if (overlay) return `write mode: overlay → ${overlay.path} (${fileName(overlay.image)} untouched)`;
  if (options.readOnly) return 'write mode: read-only (nothing is written)';
  return `write mode: direct: writes go to ${sourcePath ? fileName(sourcePath) : 'the source'}`;
}
