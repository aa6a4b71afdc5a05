/**
 * A value that must never reach output: password hashes and whole shadow files. JSON, util.inspect
 * and string conversion all show a placeholder; only reveal() gives the value, to the writer.
 */
const WITHHELD = '(withheld)';

export class Secret<T> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toJSON(): string {
    return WITHHELD;
  }

  toString(): string {
    return WITHHELD;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret ${WITHHELD}`;
  }
}
