# SPDX-License-Identifier: GPL-2.0-only
# rewind-proxy test helpers, sourced after tests/integ/lib.sh by the proxy
# scripts: a proxy on a free port whose ready line comes from a FIFO (no
# sleeps), every rewind verified, stopped and checked for what it must not
# leave behind; /init and /run through curl.

PROXY=$PWD/$OUTPUT/rewind-proxy
ACTIONS=$PWD/tests/proxy
SRC_LAUNCHERS=$PWD/user/proxy/launchers
CGROOT=$(cgroup2_root)
NPROXY=0
PROXY_PID=
# Work dirs outside /tmp: the function's /tmp is private, its dir must not be under it.
PROXY_ROOT=$(mktemp -d /var/tmp/rewind-proxy-test.XXXXXX)
chmod 0755 "$PROXY_ROOT"	# a --user function passes through it to its dir
trap 'cleanup; rm -rf "$PROXY_ROOT"' EXIT

# proxy_preflight TOOL...: every test of TESTS (and EXTRA_TESTS, shown too)
# needs root, the tools named, a cgroup2 mount and the proxy built; skip
# (or, unbuilt, fail) them all otherwise. skip_all REASON stays for the
# script's own checks.
skip_all() {
	local t
	for t in "${EXTRA_TESTS[@]}" "${TESTS[@]}"; do echo "SKIP $t: $1"; done
	exit 0
}
proxy_preflight() {
	local tool t
	require_root "${EXTRA_TESTS[@]}" "${TESTS[@]}"
	for tool in "$@"; do
		command -v "$tool" >/dev/null || skip_all "$tool is missing"
	done
	[ -n "$CGROOT" ] || skip_all "no cgroup2 mount"
	if [ ! -x "$PROXY" ]; then
		for t in "${TESTS[@]}"; do echo "FAIL $t: $PROXY not built (make OUTPUT=$OUTPUT all)"; done
		exit 0
	fi
}

# start_proxy ARGS...: a proxy on a free port of 127.0.0.1 with its own work
# dir, its stdout in POUT (its ready line, then the function's stdout) and
# its stderr in PLOG; returns once it printed its ready line (PORT, WORK).
start_proxy() {
	local line
	NPROXY=$((NPROXY + 1))
	PLOG=$TMP/proxy.$NPROXY.log
	POUT=$TMP/proxy.$NPROXY.out
	WORK=$PROXY_ROOT/work.$NPROXY
	: >"$POUT"
	# --verify: every rewind of every test is also checked byte for byte.
	"$PROXY" --port 0 --bind 127.0.0.1 --work-dir "$WORK" --rewindd-socket "$SOCK" --verify "$@" \
		>"$POUT" 2>"$PLOG" &
	PROXY_PID=$!
	# Its first line, as it is written (tail follows the file, ends with the proxy): 60 s at most.
	IFS= read -t 60 -r line < <(tail -n +1 -f --pid="$PROXY_PID" "$POUT")
	case "$line" in
	"rewind-proxy: ready on port "*)
		PORT=${line#rewind-proxy: ready on port }
		PORT=${PORT%% *}
		return 0 ;;
	"") kill -0 "$PROXY_PID" 2>/dev/null || PROXY_PID=
	    echo "no ready line: $(tail -3 "$PLOG")"; return 1 ;;
	*) echo "proxy said: $line"; return 1 ;;
	esac
}

# SIGTERM; it must exit 0 and leave neither its cgroup nor the function's dir.
stop_proxy() {
	[ -n "$PROXY_PID" ] || return 0
	kill -TERM "$PROXY_PID"
	proxy_stopped
}

# The checks of stop_proxy once the SIGTERM was sent.
proxy_stopped() {
	local rc
	# Bounded: a proxy that does not stop must not hang the suite.
	if ! timeout 60 tail --pid="$PROXY_PID" -s 0.1 -f /dev/null; then
		kill -KILL "$PROXY_PID"
		wait "$PROXY_PID"
		PROXY_PID=
		echo "the proxy did not stop within 60 s of SIGTERM"
		return 1
	fi
	wait "$PROXY_PID"
	rc=$?
	PROXY_PID=
	[ $rc = 0 ] || { echo "proxy exited $rc: $(grep -v '^XXX_THE_END' "$PLOG" | tail -4)"; return 1; }
	[ ! -d "$CGROOT/rewind-proxy-$PORT" ] || { echo "cgroup rewind-proxy-$PORT left behind"; return 1; }
	[ ! -d "$WORK/action" ] || { echo "$WORK/action left behind"; return 1; }
	# A verification that found a difference made the proxy restart: the rewind was wrong.
	! grep -q "verification found" "$PLOG" || { echo "a rewind did not verify: $(grep -m1 "verification found" "$PLOG")"; return 1; }
}

# proxy_daemon_or_fail: rewindd for the script's tests, or each of TESTS
# fails (and the script ends).
proxy_daemon_or_fail() {
	local t
	start_daemon --state-dir "$TMP/state" && return 0
	for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done
	exit 0
}

# proxy_run_tests: rewindd, then each of TESTS through proxy_case.
proxy_run_tests() {
	local t
	proxy_daemon_or_fail
	for t in "${TESTS[@]}"; do
		run_test "$t" proxy_case "test_$t"
	done
}

# Whatever the test did, the proxy is stopped before the next one; a test
# that passed must also pass the checks of a clean stop.
proxy_case() {
	local rc
	"$@"
	rc=$?
	if [ $rc = 0 ]; then
		stop_proxy || rc=1
	else
		stop_proxy >/dev/null 2>&1
	fi
	return $rc
}

# post PATH DATA [CURL ARGS...]: CODE and BODY of the answer (DATA may be @file).
post() {
	local path=$1 data=$2
	shift 2
	CODE=$(curl -sS --max-time 120 -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' --data-binary "$data" "$@" \
		"http://127.0.0.1:$PORT$path") || { echo "curl POST $path failed"; return 1; }
	BODY=$(cat "$TMP/body")
}

# init_action FILE [MAIN] [ENV-JSON]: /init with the file as plain source (and
# /init's env); must answer 200 {"ok":true}.
init_action() {
	jq -n --rawfile code "$1" --arg main "${2:-main}" --argjson env "${3:-{\}}" \
		'{value: {name: "test", main: $main, code: $code, binary: false, env: $env}}' \
		>"$TMP/init.json" || return 1
	post /init "@$TMP/init.json" || return 1
	expect "/init of $(basename "$1")" "$CODE $BODY" '200 {"ok":true}'
}

# run JSON: /run with JSON as the value (plus CONTEXT, a JSON object of context fields).
run() {
	local ctx=${CONTEXT:-'{}'}
	jq -cn --argjson v "$1" --argjson ctx "$ctx" '$ctx + {value: $v}' >"$TMP/run.json" ||
		{ echo "bad test JSON: $1"; return 1; }
	post /run "@$TMP/run.json"
}

# expect_run JSON JQ-FILTER: /run answers 200 and the filter holds on the body.
expect_run() {
	run "$1" || return 1
	[ "$CODE" = 200 ] || { echo "/run $1: status $CODE, body $BODY"; return 1; }
	jq -e "$2" <<<"$BODY" >/dev/null || { echo "/run $1: '$2' does not hold for $BODY"; return 1; }
}

jfield() {
	jq -r "$1" <<<"$BODY"
}

# wait_rewinds N: returns once a proxy started with -v logged its N-th
# rewind, which runs after the answer (tail follows the file: no sleep).
wait_rewinds() {
	local got
	got=$(timeout 60 grep -c -m "$1" "session [0-9]* rewound in" <(tail -n +1 -f --pid="$PROXY_PID" "$PLOG"))
	[ "$got" = "$1" ] || { echo "$got of $1 rewinds ended: $(tail -3 "$PLOG")"; return 1; }
}
