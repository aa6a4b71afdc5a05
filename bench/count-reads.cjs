'use strict';
/**
 * Preloaded with `node --require bench/count-reads.cjs`: counts the reads from every file opened
 * under the directory COUNT_READS_DIR (an image and whatever it names beside it) and, when the
 * process exits, writes `{"reads":N,"bytes":N,"ms":N}` to the file COUNT_READS_OUT (ms: the
 * process's own clock at exit, from its start). The readers open files with fs.openSync and read
 * them with fs.readSync; both are wrapped before the program loads, ES module bindings included.
 */
const fs = require('node:fs');
const { syncBuiltinESMExports } = require('node:module');

const dir = process.env.COUNT_READS_DIR;
const out = process.env.COUNT_READS_OUT;
if (dir && out) {
  const watched = new Set();
  const counted = { reads: 0, bytes: 0 };
  const { openSync, readSync, closeSync } = fs;
  fs.openSync = function (path, ...rest) {
    const fd = openSync.call(this, path, ...rest);
    if (typeof path === 'string' && path.startsWith(dir)) watched.add(fd);
    return fd;
  };
  fs.readSync = function (fd, ...rest) {
    const n = readSync.call(this, fd, ...rest);
    if (watched.has(fd)) {
      counted.reads++;
      counted.bytes += n;
    }
    return n;
  };
  fs.closeSync = function (fd) {
    watched.delete(fd);
    return closeSync.call(this, fd);
  };
  syncBuiltinESMExports();
  process.on('exit', () => {
    fs.writeFileSync(out, JSON.stringify({ ...counted, ms: performance.now() }));
  });
}
