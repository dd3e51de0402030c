#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The README's main command (sudo make demo): a warm function leaks one
# user's secret into the next user's invocation; under rewindd the secret is
# gone after a rewind (verified byte for byte), and the audit report shows
# where the first invocation left it.
set -eu
cd "$(dirname "$0")/../.."
OUTPUT=${OUTPUT:-build}
RWD=$PWD/$OUTPUT/rewindd
CTL=$PWD/$OUTPUT/rewindctl
FN=$PWD/$OUTPUT/tests/demo/function
TMP=$(mktemp -d /tmp/rewindd-demo.XXXXXX)
export REWINDD_SOCKET=$TMP/rewindd.sock
DPID=
trap '[ -n "$DPID" ] && kill $DPID; rm -rf "$TMP"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting rewindd (socket $REWINDD_SOCKET)"
"$RWD" --pidfile "$TMP/pid" --socket "$REWINDD_SOCKET" --state-dir "$TMP/state"
DPID=$(cat "$TMP/pid")

# ---- 1. a warm container without rewindd: audit mode shows the leak ---------------
coproc WARM { exec "$FN" "$TMP/warm"; }
read -r _ <&"${WARM[0]}"
say "1. a warm container as platforms run it today (pid $WARM_PID), watched in audit mode"
AUDIT=$("$CTL" attach --pid "$WARM_PID" --report --watch "$TMP/warm")
for req in "alice tok_alice_5f2a9c" "bob tok_bob_11d0e4"; do
	echo "$req" >&"${WARM[1]}"
	read -r answer <&"${WARM[0]}"
	echo "${req%% *} gets: $answer"
	"$CTL" mark "$AUDIT" >/dev/null
	if [ "${req%% *}" = alice ]; then
		say "audit: where does alice's token persist after her invocation? (report --canary)"
		"$CTL" report "$AUDIT" --canary tok_alice_5f2a9c | sed -n '/^canary/,$p'
		echo
	fi
done
echo "-> bob saw alice's secret"
# End it (EOF on its stdin): bash runs one coprocess at a time. Its report stays.
eval "exec ${WARM[1]}>&-"
wait "$WARM_PID" || true

# ---- 2. the same function under rewindd -------------------------------------------
mkdir -p "$TMP/fn"
coproc FUNC { exec "$FN" "$TMP/fn"; }
read -r _ <&"${FUNC[0]}"
say "2. the same function under rewindd (pid $FUNC_PID): checkpoint once, rewind after every invocation"
ID=$("$CTL" attach --pid "$FUNC_PID" --watch "$TMP/fn")
"$CTL" checkpoint "$ID"
for req in "alice tok_alice_5f2a9c" "bob tok_bob_11d0e4"; do
	echo "$req" >&"${FUNC[1]}"
	read -r answer <&"${FUNC[0]}"
	echo "${req%% *} gets: $answer"
	case "$answer" in *tok_alice*) echo "-> FAIL: bob saw alice's secret under rewindd"; exit 1 ;; esac
	"$CTL" rewind "$ID" --verify
done
if grep -q tok_alice /proc/"$FUNC_PID"/environ 2>/dev/null || [ -n "$(ls -A "$TMP/fn")" ]; then
	echo "-> FAIL: alice's secret is still in the function's environment or work directory"
	exit 1
fi
echo "-> bob saw nothing of alice: global, heap, environment and the file in its work directory"
echo "   are back to the checkpoint, proven byte for byte (--verify)."
say "audit after the rewind: alice's token anywhere? (report --canary)"
"$CTL" report "$ID" --canary tok_alice_5f2a9c | sed -n '/^canary/,$p'

say "audit report: what alice's invocation left behind in the warm container"
"$CTL" report "$AUDIT" | awk '/^invocation 2/ { exit } { print }'

say "the same as JSON (abridged)"
"$CTL" report "$AUDIT" --json | head -1 | jq -c '{invocation, pages_written, files: [.files[] | {path, ops, created}], files_persisting, mappings: [.mappings[] | {name, pages_written}]}'

"$CTL" detach "$AUDIT" >/dev/null
"$CTL" detach "$ID" >/dev/null
# Leaving closes the functions' stdin: they end with EOF.
