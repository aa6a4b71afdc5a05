/** A filesystem the ext reader cannot go on reading, with a message naming the file or structure and the problem. */
export class ExtError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExtError';
  }
}
