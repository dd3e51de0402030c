#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The README's main command (sudo make demo). A real OpenWhisk-style action
# (tests/demo/action.py) behind rewind-proxy caches each caller's secret in
# a global, a file and an environment variable. In insecure mode (a warm
# container as platforms reuse it) bob sees alice's secret, and an audit
# session shows where her token persisted; in rewind mode (the default)
# every /run is followed by a rewind and bob sees nothing of alice.
set -eu
cd "$(dirname "$0")/../.."
OUTPUT=${OUTPUT:-build}
RWD=$PWD/$OUTPUT/rewindd
CTL=$PWD/$OUTPUT/rewindctl
PROXY=$PWD/$OUTPUT/rewind-proxy
TMP=$(mktemp -d /tmp/rewindd-demo.XXXXXX)
# Not under /tmp: the function's /tmp is private.
WTMP=$(mktemp -d /var/tmp/rewindd-demo.XXXXXX)
export REWINDD_SOCKET=$TMP/rewindd.sock
DPID= PPID_=
stop_proxy() {
	[ -n "$PPID_" ] || return 0
	kill "$PPID_" 2>/dev/null && wait "$PPID_" 2>/dev/null || true
	PPID_=
}
trap 'stop_proxy; [ -n "$DPID" ] && kill $DPID; rm -rf "$TMP" "$WTMP"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# start_proxy MODE: a proxy on a free port; returns once it says it is ready (PORT).
start_proxy() {
	local out=$TMP/proxy-$1.out line
	: >"$out"
	# Its stdout: the ready line, then the function's output and the activation sentinels.
	"$PROXY" --port 0 --mode "$1" --runtime python --work-dir "$WTMP/work-$1" \
		--rewindd-socket "$REWINDD_SOCKET" >"$out" 2>>"$TMP/proxy.log" &
	PPID_=$!
	IFS= read -t 60 -r line < <(tail -n +1 -f --pid="$PPID_" "$out") ||
		{ echo "rewind-proxy did not start:"; tail "$TMP/proxy.log"; exit 1; }
	case "$line" in "rewind-proxy: ready on port "*) ;; *) echo "rewind-proxy: $line"; exit 1 ;; esac
	PORT=${line#rewind-proxy: ready on port }
	PORT=${PORT%% *}
	FN_CGROUP=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)/rewind-proxy-$PORT/fn
	echo "rewind-proxy --mode $1 on port $PORT"
}

post() {
	curl -sS -XPOST "localhost:$PORT/$1" -H 'Content-Type: application/json' -d "$2"
}

init_action() {
	post init "$(jq -cn --rawfile code tests/demo/action.py \
		'{value: {name: "demo", main: "main", code: $code}}')" >/dev/null
}

run_for() {
	local out
	out=$(post run "{\"value\":{\"name\":\"$1\",\"secret\":\"$2\"}}")
	echo "$1 gets: $(jq -c . <<<"$out")"
	LAST=$out
}

say "starting rewindd (socket $REWINDD_SOCKET)"
"$RWD" --pidfile "$TMP/rewindd.pid" --socket "$REWINDD_SOCKET" --state-dir "$TMP/state"
DPID=$(cat "$TMP/rewindd.pid")

# ---- 1. insecure: the warm container as platforms reuse it --------------------------
say "1. a warm container as platforms reuse it today"
start_proxy insecure
init_action
# An auditor watches the function in report mode: where does alice's token persist?
AUDIT=$("$CTL" attach --cgroup "$FN_CGROUP" --report --watch "$WTMP/work-insecure/action")
run_for alice tok_alice_5f2a9c
"$CTL" mark "$AUDIT" >/dev/null
echo "   audit, before the next caller: where does alice's token persist? (report --canary)"
"$CTL" report "$AUDIT" --canary tok_alice_5f2a9c | sed -n '/^canary/,$p' | sed 's/^/   /'
run_for bob tok_bob_11d0e4
case "$LAST" in *tok_alice*) echo "-> bob saw alice's secret (global, file and environment)" ;;
*) echo "-> unexpected: bob did not see alice's secret in insecure mode"; exit 1 ;; esac

say "audit report of alice's invocation"
"$CTL" report "$AUDIT" | awk '/^invocation 2/ { exit } { print }'
"$CTL" detach "$AUDIT" >/dev/null
stop_proxy

# ---- 2. rewind: every /run is followed by a rewind -------------------------------
say "2. the same action under rewind-proxy --mode rewind (the default)"
start_proxy rewind
init_action
ID=$("$CTL" status --json | jq -r '.sessions[] | select(.mode == "rewind") | .session')
echo "rewindd session $ID: checkpointed after /init, rewound after every /run"
run_for alice tok_alice_5f2a9c
run_for bob tok_bob_11d0e4
case "$LAST" in *tok_alice*) echo "-> FAIL: bob saw alice's secret under rewind"; exit 1 ;; esac
echo "-> bob saw nothing of alice: global, file and environment were rewound before his request"
# The proxy rewinds right after answering; the next status waits for the daemon.
"$CTL" status "$ID"
say "audit after the rewinds: alice's token anywhere in the function? (report --canary)"
"$CTL" report "$ID" --canary tok_alice_5f2a9c | sed -n '/^canary/,$p'
stop_proxy
