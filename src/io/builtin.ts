/**
 * Node built-ins loaded on first use. `kpartx -l` has to start in about Node's own start-up time,
 * and some built-ins cost milliseconds to load that a listing never uses: zlib, child_process and
 * tty each pull in Node's streams (child_process and tty its sockets too). A module that only
 * sometimes needs one asks for it here instead of importing it at its top.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/** A getter of built-in `id`, which loads it the first time it is called. */
export function lazyBuiltin<T>(id: `node:${string}`): () => T {
  let module: T | undefined;
  return () => {
    module ??= load(id) as T;
    return module;
  };
}
