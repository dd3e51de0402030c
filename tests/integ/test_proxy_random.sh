#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Randomness after a rewind (issue 12): behind rewind-proxy in rewind mode
# every activation starts from the same checkpoint, and so would every random
# generator kept in user space. The launchers reseed them before each
# activation. Five activations of tests/proxy/rng.py and rng.js (one draw of
# every common generator, each drawn at load time too) must give five
# different values of each: the audit of the README, done here with the
# same jq filter (repeated_values). Each has a twin with the launcher's
# reseeding off (REWIND_PROXY_NO_RESEED=1 in /init's env) where the user-space
# generators give one value five times: the replay the hooks undo. Every
# rewind runs with --verify. No sleeps: the proxy's ready line comes from a FIFO.
# Node's keys (what OpenSSL draws for itself) are fresh only with the addon
# with which the launcher reseeds OpenSSL (OUTPUT/proxy/launcher_native.node):
# without it they are left out of the audit and proxy_random_node_openssl
# is skipped.
cd "$(dirname "$0")/../.." || exit 1
. tests/integ/lib.sh
. tests/integ/proxy_lib.sh
N=5

TESTS=(proxy_random_python proxy_random_python_replays_without_hooks proxy_random_python_numpy
	proxy_random_python_fork proxy_random_hook_error_python proxy_random_node
	proxy_random_node_openssl proxy_random_node_replays_without_hooks proxy_random_hook_error_node)
proxy_preflight curl jq node /usr/bin/python3
HAVE_ADDON=false
[ -f "$OUTPUT/proxy/launcher_native.node" ] && HAVE_ADDON=true
HAVE_NUMPY=false
/usr/bin/python3 -c 'import numpy' 2>/dev/null && HAVE_NUMPY=true

# runs N: N activations, each with an activation id of the invoker's (as
# OpenWhisk's sends), their answers one a line in $TMP/answers. Every
# activation must see its own id: the proxy passes it, nothing replays it.
runs() {
	local i id
	: >"$TMP/answers"
	for i in $(seq "$1"); do
		id=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
		post /run "{\"value\":{},\"activation_id\":\"$id\"}" || return 1
		[ "$CODE" = 200 ] || { echo "/run $i: status $CODE, body $BODY"; return 1; }
		expect "activation id seen by activation $i" "$(jq -r .activation_id <<<"$BODY")" "$id" || return 1
		jq -c . <<<"$BODY" >>"$TMP/answers"
	done
}

# The audit (README, "Randomness after a rewind"): the keys of .values that
# took the same value in two of the answers, sorted, one a line.
repeated_values() {
	jq -rs '[.[].values | to_entries[]] | group_by(.key)[]
		| select((map(.value) | unique | length) < length) | .[0].key' "$@" | sort
}

# distinct_values KEY: how many values KEY took in the answers.
distinct_values() {
	jq -s --arg k "$1" '[.[].values[$k]] | unique | length' "$TMP/answers"
}

# expect_keys WANTED...: .values of every answer has exactly these keys.
expect_keys() {
	local want
	want=$(printf '%s\n' "$@" | sort | paste -sd' ')
	expect "generators in the answers" "$(jq -r '.values | keys[]' "$TMP/answers" | sort -u | paste -sd' ')" \
		"$want"
}

# all_fresh: N answers, no value of any generator seen twice.
all_fresh() {
	local rep
	expect "answers" "$(wc -l <"$TMP/answers")" "$N" || return 1
	rep=$(repeated_values "$TMP/answers" | paste -sd' ')
	[ -z "$rep" ] || { echo "replayed after a rewind: $rep ($(head -2 "$TMP/answers" | tr '\n' ' '))"; return 1; }
}

PY_KERNEL=(urandom secrets uuid4 SystemRandom)
PY_USER=(random getrandbits ssl_RAND_bytes tempfile own_Random)
$HAVE_NUMPY && PY_USER+=(numpy)
NODE_USER=(Math_random randomBytes randomBytes_async randomFillSync randomFillSync_offset randomFill randomUUID
	randomUUID_nocache getRandomValues webcrypto_getRandomValues globalThis_crypto_getRandomValues
	webcrypto_randomUUID randomInt randomInt_async own_generator)
NODE_OPENSSL=(ec_keypair ecdh_keys hmac_key subtle_hmac_key_async)

# ---- Python ------------------------------------------------------------------------

# Every generator differs in each of five rewound activations, and the
# action's own hook (which reseeds its random.Random) ran once before each.
test_proxy_random_python() {
	start_proxy || return 1
	init_action "$ACTIONS/rng.py" || return 1
	runs $N || return 1
	expect_keys "${PY_KERNEL[@]}" "${PY_USER[@]}" || return 1
	all_fresh || return 1
	expect "hook runs since the checkpoint" "$(jq -r .hook_runs "$TMP/answers" | sort -u)" 1
}

# The twin: without the launcher's reseeding (and so without the action's
# hook) every user-space generator replays its checkpointed state: one value
# five times; what goes to the kernel at each call stays fresh.
test_proxy_random_python_replays_without_hooks() {
	local k
	start_proxy || return 1
	init_action "$ACTIONS/rng.py" main '{"REWIND_PROXY_NO_RESEED":"1"}' || return 1
	runs $N || return 1
	expect_keys "${PY_KERNEL[@]}" "${PY_USER[@]}" || return 1
	for k in "${PY_USER[@]}"; do
		expect "values of $k without the hooks" "$(distinct_values "$k")" 1 || return 1
	done
	for k in "${PY_KERNEL[@]}"; do
		expect "values of $k (from the kernel)" "$(distinct_values "$k")" $N || return 1
	done
	expect "hook runs" "$(jq -r .hook_runs "$TMP/answers" | sort -u)" 0 || return 1
	expect "the audit's finding" "$(repeated_values "$TMP/answers" | paste -sd' ')" \
		"$(printf '%s\n' "${PY_USER[@]}" | sort | paste -sd' ')"
}

# numpy's legacy global generator, when numpy is installed (rng.py draws
# from it then, and the two tests above cover it).
test_proxy_random_python_numpy() {
	$HAVE_NUMPY || { echo "numpy is not installed for /usr/bin/python3 (apt-get install python3-numpy)"; return 77; }
	start_proxy || return 1
	init_action "$ACTIONS/rng.py" || return 1
	runs $N || return 1
	jq -e '.numpy and (.values.numpy | type == "number")' "$TMP/answers" >/dev/null ||
		{ echo "no numpy draw: $(head -1 "$TMP/answers")"; return 1; }
	expect "distinct numpy.random values" "$(distinct_values numpy)" $N
}

# Fork mode: each child of the template starts from the template's state
# (numpy's generator and the action's own would repeat): reseeded in the child.
test_proxy_random_python_fork() {
	start_proxy --mode fork || return 1
	init_action "$ACTIONS/rng.py" || return 1
	runs $N || return 1
	all_fresh || return 1
	expect "hook runs in each child" "$(jq -r .hook_runs "$TMP/answers" | sort -u)" 1
}

# A hook that raises fails the activation (main does not run with a replayed
# state); the next one runs its hooks again.
test_proxy_random_hook_error_python() {
	cat >"$TMP/hookerr.py" <<'EOF2'
import rewind_proxy

RAN = []


@rewind_proxy.after_rewind
def hook():
    RAN.append(1)
    raise RuntimeError("hook failed %d" % len(RAN))


def main(args):
    return {"main": "ran"}
EOF2
	start_proxy || return 1
	init_action "$TMP/hookerr.py" || return 1
	post /run '{"value":{}}' || return 1
	expect "first activation" "$CODE $BODY" '200 {"error": "hook failed 1"}' || return 1
	post /run '{"value":{}}' || return 1
	expect "second activation" "$CODE $BODY" '200 {"error": "hook failed 1"}'
}

# ---- Node ----------------------------------------------------------------------------

test_proxy_random_node() {
	local k
	start_proxy --runtime node || return 1
	init_action "$ACTIONS/rng.js" || return 1
	runs $N || return 1
	expect_keys "${NODE_USER[@]}" "${NODE_OPENSSL[@]}" || return 1
	if ! $HAVE_ADDON; then
		for k in "${NODE_OPENSSL[@]}"; do
			jq -c --arg k "$k" 'del(.values[$k])' "$TMP/answers" >"$TMP/answers.tmp" &&
				mv "$TMP/answers.tmp" "$TMP/answers" || return 1
		done
	fi
	all_fresh || return 1
	expect "exported hook runs since the checkpoint" "$(jq -r .hook_runs "$TMP/answers" | sort -u)" 1 || return 1
	expect "rewindProxy.afterRewind hook runs" "$(jq -r .global_hook_runs "$TMP/answers" | sort -u)" 1
}

# What OpenSSL draws for itself (EC and ECDH keys, generateKeySync's HMAC
# key on the main thread, WebCrypto's on libuv's pool) differs in each of
# five rewound activations: the launcher reseeded OpenSSL (RAND_add), and
# the per-thread DRBGs followed. Without the addon they replay (the twin).
test_proxy_random_node_openssl() {
	local k
	$HAVE_ADDON || { echo "$OUTPUT/proxy/launcher_native.node not built (make builds it where /usr/include/node/node_api.h exists)"; return 77; }
	start_proxy --runtime node || return 1
	init_action "$ACTIONS/rng.js" || return 1
	runs $N || return 1
	for k in "${NODE_OPENSSL[@]}"; do
		expect "values of $k" "$(distinct_values "$k")" $N || return 1
	done
	! grep -q "OpenSSL is not reseeded" "$PLOG" || { echo "the launcher did not load the addon"; return 1; }
}

# The twin: V8's Math.random, OpenSSL's DRBG and node's caches all replay.
# The asynchronous calls run on libuv's pool, whose threads each have a DRBG
# of their own (OpenSSL's are per thread): which thread takes the job varies,
# so they replay one of a few values; the audit flags them all the same.
test_proxy_random_node_replays_without_hooks() {
	local k
	start_proxy --runtime node || return 1
	init_action "$ACTIONS/rng.js" main '{"REWIND_PROXY_NO_RESEED":"1"}' || return 1
	runs $N || return 1
	expect_keys "${NODE_USER[@]}" "${NODE_OPENSSL[@]}" || return 1
	for k in "${NODE_USER[@]}" "${NODE_OPENSSL[@]}"; do
		[[ $k == *_async || $k == randomFill ]] && continue
		expect "values of $k without the hooks" "$(distinct_values "$k")" 1 || return 1
	done
	expect "the audit's finding" "$(repeated_values "$TMP/answers" | paste -sd' ')" \
		"$(printf '%s\n' "${NODE_USER[@]}" "${NODE_OPENSSL[@]}" | sort | paste -sd' ')" || return 1
	expect "hook runs" "$(jq -r '[.hook_runs, .global_hook_runs] | @text' "$TMP/answers" | sort -u)" '[0,0]'
}

test_proxy_random_hook_error_node() {
	cat >"$TMP/hookerr.js" <<'EOF2'
let ran = 0;
module.exports.afterRewind = async () => { ran++; throw new Error(`hook failed ${ran}`); };
module.exports.main = () => ({ main: 'ran' });
EOF2
	start_proxy --runtime node || return 1
	init_action "$TMP/hookerr.js" || return 1
	post /run '{"value":{}}' || return 1
	expect "first activation" "$CODE $BODY" '200 {"error":"hook failed 1"}' || return 1
	post /run '{"value":{}}' || return 1
	expect "second activation" "$CODE $BODY" '200 {"error":"hook failed 1"}'
}

proxy_run_tests
