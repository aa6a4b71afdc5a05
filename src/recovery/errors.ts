/** A recovery step that cannot go on, with a message naming the file or account and the problem. */
export class RecoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecoveryError';
  }
}
