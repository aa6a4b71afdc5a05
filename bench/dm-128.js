#!/usr/bin/env node
/**
 * Add then delete the maps of a 128-partition GPT image on real device-mapper, the C kpartx and
 * ours in the same QEMU guest boot (scripts/dm-guest.js), and print both times and the ratio.
 * Each tool runs ROUNDS times, alternating; the best round counts (TCG noise is large).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInGuest } from '../scripts/dm-guest.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const guestScript = `
set -e
xz -dc ${repo}/fixtures/dos-gpt/t05.img.xz > /tmp/gpt128.img
# udev would make these; the C kpartx finds an image's loop device only through them.
link_loops() { mkdir -p /dev/block; for d in /sys/block/loop*; do n=\${d##*/}; [ -e /dev/block/$(cat $d/dev) ] || ln -s ../$n /dev/block/$(cat $d/dev); done; }
now() { date +%s.%N; }
one() { # label, command...
  label=$1; shift
  link_loops
  t0=$(now); "$@" -a /tmp/gpt128.img; t1=$(now)
  maps=$(dmsetup ls | grep -c p || true)
  link_loops
  t2=$(now); "$@" -d /tmp/gpt128.img; t3=$(now)
  left=$(dmsetup ls | grep -c p || true)
  echo "BENCH $label add $(awk "BEGIN{print $t1 - $t0}") delete $(awk "BEGIN{print $t3 - $t2}") maps $maps left $left"
  losetup -D
}
for r in $(seq 1 ${ROUNDS}); do
  one c /usr/sbin/kpartx
  one ours node ${repo}/bin/kpartx.js
done
`;

// The guest runs bin/kpartx.js, i.e. dist/: build it from the current sources first.
if (spawnSync('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: 'inherit' }).status !== 0) {
  console.error('bench: npm run build failed');
  process.exit(1);
}

const results = { c: [], ours: [] };
const { status } = await runInGuest(guestScript, {
  timeoutMs: 9 * 60_000,
  onLine: (line) => {
    const m = /BENCH (\w+) add ([\d.]+) delete ([\d.]+) maps (\d+) left (\d+)/.exec(line);
    if (!m) return;
    const [, label, add, del, maps, left] = m;
    results[label].push({ add: Number(add), del: Number(del), maps: Number(maps), left: Number(left) });
    console.log(
      `  ${label === 'c' ? 'C kpartx' : 'ours    '}: add ${add} s, delete ${del} s (${maps} maps made, ${left} left)`,
    );
  },
});
if (status !== 0 || results.c.length === 0 || results.ours.length === 0) {
  console.error(`bench: the guest run failed (status ${status})`);
  process.exit(1);
}
const best = (runs) => Math.min(...runs.map((r) => r.add + r.del));
const bad = [...results.c, ...results.ours].filter((r) => r.maps !== 128 || r.left !== 0);
const c = best(results.c);
const ours = best(results.ours);
console.log(`128-partition GPT, add + delete, best of ${ROUNDS}:`);
console.log(`  C kpartx ${c.toFixed(2)} s`);
console.log(`  ours     ${ours.toFixed(2)} s`);
console.log(
  `  ratio ours/C ${(ours / c).toFixed(2)}${ours <= c ? ' (target met: no slower)' : ' (slower than the C tool)'}`,
);
if (bad.length > 0) {
  console.error('bench: a run did not make 128 maps or left maps behind');
  process.exit(1);
}
