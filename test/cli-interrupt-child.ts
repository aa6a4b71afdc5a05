/**
 * Runs `kpartx -av IMAGE` in its own process with the loop backend pausing after each partition
 * loop it attaches, so the interruption test can send a signal half-way. argv[2] is the image,
 * argv[3] the pause (ms). The CLI's own exit status becomes this process's.
 */
import { main } from '../src/cli/kpartx.js';
import { createLoopBackend } from '../src/engine/backends/loop.js';
import { sleepSync } from '../src/kernel/loop.js';

const image = process.argv[2]!;
const pauseMs = Number(process.argv[3] ?? 0);
process.exitCode = await main(['kpartx', '-av', '--backend', 'loop', image], {
  makeBackend: (_kind, kernel) =>
    createLoopBackend(kernel, {
      afterAttach: (map) => {
        process.stderr.write(`attached ${map.name}\n`);
        sleepSync(pauseMs);
      },
    }),
});
