/** An XFS the reader cannot go on reading, with a message naming the structure and the problem. */
export class XfsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XfsError';
  }
}
