#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The README's main command (sudo make demo): a function leaks a user's secret
# into the next invocation, and rewindd's audit report shows where it went.
set -eu
cd "$(dirname "$0")/../.."
OUTPUT=${OUTPUT:-build}
RWD=$PWD/$OUTPUT/rewindd
CTL=$PWD/$OUTPUT/rewindctl
FN=$PWD/$OUTPUT/tests/demo/function
TMP=$(mktemp -d /tmp/rewindd-demo.XXXXXX)
export REWINDD_SOCKET=$TMP/rewindd.sock
DPID=
trap '[ -n "$DPID" ] && kill $DPID; rm -rf "$TMP" /tmp/rewindd-demo' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting rewindd (socket $REWINDD_SOCKET)"
"$RWD" --pidfile "$TMP/pid" --socket "$REWINDD_SOCKET"
DPID=$(cat "$TMP/pid")

coproc FUNC { exec "$FN"; }
read -r _ <&"${FUNC[0]}"
say "function started as pid $FUNC_PID; attaching in audit (report) mode"
ID=$("$CTL" attach --pid "$FUNC_PID" --report)
echo "session $ID"

invoke() {
	echo "$1 $2" >&"${FUNC[1]}"
	read -r answer <&"${FUNC[0]}"
	echo "function answered: $answer"
	"$CTL" mark "$ID"
}

say "invocation 1: alice sends her secret tok_alice_5f2a9c"
invoke alice tok_alice_5f2a9c
say "invocation 2: bob, on the same warm container"
invoke bob tok_bob_11d0e4
echo "(alice's secret reached bob: checkpoint/rewind, which would remove it, comes in the next release)"

say "audit report: what each invocation left behind"
"$CTL" report "$ID"

say "the same as JSON (invocation 1, abridged)"
"$CTL" report "$ID" --json | head -1 | jq -c '{invocation, pages_written, files: [.files[] | {path, ops, created}], mappings: [.mappings[] | {name, pages_written}]}'

"$CTL" detach "$ID" >/dev/null
# Leaving closes the function's stdin: it ends with EOF.
