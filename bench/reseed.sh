#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What the launchers' reseeding costs (README, "Randomness after a rewind"):
# Python's reseed_runtime() per activation (nothing loaded, ssl loaded, numpy
# and ssl loaded), and node's wrapped generators per call against node's own
# (the same action with REWIND_PROXY_NO_RESEED=1), plus the refill of the
# pool (one 4 KiB read of /dev/urandom) that the first draw of an activation
# pays. Runs the launchers directly, without a proxy or rewindd. Prints;
# asserts nothing.
set -u
cd "$(dirname "$0")/.." || exit 1
L=$PWD/user/proxy/launchers
TMP=$(mktemp -d /tmp/reseed-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

echo "== python: reseed_runtime() per activation, us"
/usr/bin/python3 -I -B - "$L/launcher.py" <<'PY'
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("launcher", sys.argv[1])
launcher = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launcher)
launcher.install_rewind_proxy_module()

def per_call(n=20000):
    best = None
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            launcher.reseed_runtime()
        t = (time.perf_counter_ns() - t0) / n / 1000
        best = t if best is None or t < best else best
    return best

print("random only:       %.2f" % per_call())
import ssl  # noqa: E402
print("+ ssl.RAND_add:    %.2f" % per_call())
try:
    import numpy  # noqa: F401
    print("+ numpy.random:    %.2f" % per_call())
except ImportError:
    print("+ numpy.random:    (numpy not installed)")
PY

cat >"$TMP/bench.js" <<'JS'
const crypto = require('crypto');
const fs = require('fs');
const cases = {
  'Math.random()': () => Math.random(),
  'randomBytes(16)': () => crypto.randomBytes(16),
  'randomFillSync(16 B)': ((b) => () => crypto.randomFillSync(b))(Buffer.alloc(16)),
  'getRandomValues(16 B)': ((b) => () => crypto.getRandomValues(b))(new Uint8Array(16)),
  'randomUUID()': () => crypto.randomUUID(),
  'randomInt(1e6)': () => crypto.randomInt(1e6),
  'randomBytes(64 KiB)': () => crypto.randomBytes(65536),
};
// At load time (the launcher has put its wrappers in place): no request needed.
const out = {};
for (const [name, fn] of Object.entries(cases)) {
  const n = name.includes('KiB') ? 2000 : 100000;
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  out[name] = best;
}
const fd = fs.openSync('/dev/urandom', 'r');
const pool = Buffer.alloc(4096);
let best = Infinity;
for (let r = 0; r < 1000; r++) {
  const t0 = process.hrtime.bigint();
  fs.readSync(fd, pool, 0, 4096, null);
  best = Math.min(best, Number(process.hrtime.bigint() - t0));
}
out['pool refill (4 KiB read)'] = best;
fs.writeFileSync(process.env.BENCH_OUT, JSON.stringify(out));
module.exports.main = () => ({});
JS
echo "== node: ns per call, node's own / wrapped (fresh kernel entropy)"
for v in 1 0; do
	BENCH_OUT=$TMP/$v.json REWIND_PROXY_NO_RESEED=$v node "$L/launcher.js" "$TMP/bench.js" main </dev/null 3>/dev/null
done
jq -rn --slurpfile a "$TMP/1.json" --slurpfile b "$TMP/0.json" \
	'$a[0] | keys_unsorted[] as $k | "\($k): \($a[0][$k] | floor) / \($b[0][$k] | floor)"'
