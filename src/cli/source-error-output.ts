/**
 * How the kpartx CLI reports a source that cannot be used, as the C tool does: which stream the
 * message goes to, the lines printed before it, and the exit status. The engine only says what
 * went wrong (SourceError.kind); presenting it is the CLI's business.
 */
import type { SourceError } from '../engine/source.js';

export interface SourceErrorOutput {
  stream: 'stdout' | 'stderr';
  /** stderr lines before the message (the system error behind it). */
  before: string[];
  exitCode: number;
}

export function sourceErrorOutput(error: SourceError): SourceErrorOutput {
  return {
    // `failed to stat() X` is the one the C tool prints on stdout.
    stream: error.kind === 'stat' ? 'stdout' : 'stderr',
    before: error.kind === 'loop' && error.systemError !== undefined ? [error.systemError] : [],
    exitCode: 1,
  };
}
