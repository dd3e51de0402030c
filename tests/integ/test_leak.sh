#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Leak scenarios: a function in C, Python (/usr/bin/python3)
# and Node (/usr/bin/node) keeps a caller's secret in one persistence point
# (tests/leak: global, heap, env, thread, child, fd, shm, helper, pipe); the next invocation
# looks for it everywhere, its own memory included.
#
#   leak_LANG_SCENARIO_norewind  no rewindd: the next invocation finds the
#       secret, in the scenario's own place. Proves the scenario leaks and
#       that this test can fail. Controls: a search before the plant, and a
#       search for another secret after it, find nothing (the search does not
#       find its own key).
#   leak_LANG_SCENARIO_rewind    attach, checkpoint, plant, rewind --verify
#       (must exit 0), then the search must answer "clean".
#   leak_LANG_all_3cycles        every scenario planted in one invocation and
#       seen there before the rewind, three rewinds of one checkpoint.
# One process per test: no scenario can hide or cause another's result.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

LANGS=(c py js)
SCENARIOS=(global heap env thread child fd shm helper pipe)
# Scenarios a language has no natural form of (LANG/SCENARIO: why): not tests
# of that language at all (the state is tested elsewhere, or cannot arise).
declare -A NO_SCENARIO=(
	[c/shm]="C's shared memory is the zdtm shared_* scenarios' (test_rewind.sh)"
	[js/shm]="Node has no shared mapping of its own (SharedArrayBuffer is private memory)"
	[c/helper]="C's helper process is the zdtm helper_child scenario's (test_rewind.sh)"
	[c/pipe]="C's pipe to itself is the zdtm fdobj_pipe scenario's (test_rewind.sh)"
	[js/pipe]="Node makes no pipe pair of its own (child_process pipes: the helper scenario)"
)

# Where the norewind search must find the secret: the scenario's own place
# (an extended regex over the comma-separated places of "found ...").
declare -A OWN_PLACE=(
	[global]='(^|,)global(,|$)'
	[heap]='(^|,)mem:'
	[env]='(^|,)getenv(,|$)'
	[thread]='(^|,)thread:[0-9]+(,|$)'
	[child]='(^|,)child:[0-9]+:(cmdline|mem:)'
	[fd]='(^|,)fd:[0-9]+:'
	[helper]='(^|,)helper:[0-9]+(,|$)'
	[shm]='(^|,)shm:'
	[pipe]='(^|,)pipe:[0-9]+(,|$)'
)

# fn_command LANG: sets FN_CMD to the function's command line; returns 77
# (skip) when its runtime is missing.
fn_command() {
	case $1 in
	c)
		FN_CMD=("$PWD/$OUTPUT/tests/leak/leak")
		[ -x "${FN_CMD[0]}" ] || { echo "${FN_CMD[0]} not built (make OUTPUT=$OUTPUT test builds it)"; return 1; }
		;;
	py)
		[ -x /usr/bin/python3 ] || { echo "/usr/bin/python3 is missing"; return 77; }
		FN_CMD=(/usr/bin/python3 -I "$PWD/tests/leak/leak.py")
		;;
	js)
		[ -x /usr/bin/node ] || { echo "/usr/bin/node is missing"; return 77; }
		FN_CMD=(/usr/bin/node "$PWD/tests/leak/leak.js")
		;;
	esac
}

# The places of the last answer that say something exists (a thread, a
# child) rather than that the secret's bytes were seen.
content_places() {
	tr ',' '\n' <<<"${ANSWER#found }" | grep -Ev '^(thread|child):[0-9]+$'
}

leak_norewind() {
	local lang=$1 sc=$2 secret other
	fn_command "$lang" || return $?
	secret=$(random_secret) || { echo "no random secret"; return 1; }
	other=$(random_secret) || { echo "no random secret"; return 1; }
	start_fn "${FN_CMD[@]}" || return 1
	fn_ask "search $sc $secret" || return 1
	expect "$lang/$sc: search before any plant (the search's own key must not count)" "$ANSWER" clean || return 1
	fn_ask "plant $sc $secret" || return 1
	expect "$lang/$sc: plant" "$ANSWER" "done" || return 1
	fn_ask "search $sc $secret" || return 1
	case "$ANSWER" in
	found\ *) ;;
	*) echo "$lang/$sc: without rewind the next invocation did not find the secret: $ANSWER"; return 1 ;;
	esac
	grep -Eq "${OWN_PLACE[$sc]}" <<<"${ANSWER#found }" ||
		{ echo "$lang/$sc: found, but not in the scenario's own place (${OWN_PLACE[$sc]}): $ANSWER"; return 1; }
	fn_ask "search $sc $other" || return 1
	case "$ANSWER" in
	clean) ;;
	found\ *)
		[ -z "$(content_places)" ] ||
			{ echo "$lang/$sc: a secret never planted was found: $ANSWER"; return 1; } ;;
	*) echo "$lang/$sc: search answered: $ANSWER"; return 1 ;;
	esac
	stop_fn
}

leak_rewind() {
	local lang=$1 sc=$2 secret id rc
	fn_command "$lang" || return $?
	[ "$(id -u)" = 0 ] || { echo "needs root (BPF, ptrace)"; return 77; }
	[ -n "$DAEMON_PID" ] || { echo "rewindd did not start"; return 1; }
	secret=$(random_secret) || { echo "no random secret"; return 1; }
	start_fn "${FN_CMD[@]}" || return 1
	if ! id=$(timeout 300 "$CTL" attach --pid "$FPID" 2>"$TMP/attach.err"); then
		echo "$lang/$sc: attach --pid $FPID failed: $(cat "$TMP/attach.err")"
		return 1
	fi
	if ! timeout 300 "$CTL" checkpoint "$id" >"$TMP/checkpoint.out" 2>&1; then
		echo "$lang/$sc: checkpoint failed: $(tail -3 "$TMP/checkpoint.out")"
		return 1
	fi
	fn_ask "plant $sc $secret" || return 1
	expect "$lang/$sc: plant" "$ANSWER" "done" || return 1
	timeout 300 "$CTL" rewind "$id" --verify >"$TMP/rewind.out" 2>&1
	rc=$?
	[ $rc = 0 ] || { echo "$lang/$sc: rewind --verify exited $rc: $(tail -3 "$TMP/rewind.out")"; return 1; }
	fn_ask "search $sc $secret" || { echo "$lang/$sc: function unusable after rewind"; return 1; }
	case "$ANSWER" in
	clean) ;;
	found\ *) echo "$lang/$sc: LEAK after rewind --verify, the next invocation found the secret at: ${ANSWER#found }"; return 1 ;;
	*) echo "$lang/$sc: search after rewind answered: $ANSWER"; return 1 ;;
	esac
	timeout 300 "$CTL" detach "$id" >/dev/null || { echo "$lang/$sc: detach failed"; return 1; }
	stop_fn
}

# All six persistence points in one invocation, three invocations in a row
# on one checkpoint: each time the secret is first seen in every place (in
# this very tracked process), then rewind --verify, then it is nowhere.
leak_all_cycles() {
	local lang=$1 secret id rc r sc
	fn_command "$lang" || return $?
	[ "$(id -u)" = 0 ] || { echo "needs root (BPF, ptrace)"; return 77; }
	[ -n "$DAEMON_PID" ] || { echo "rewindd did not start"; return 1; }
	start_fn "${FN_CMD[@]}" || return 1
	if ! id=$(timeout 300 "$CTL" attach --pid "$FPID" 2>"$TMP/attach.err"); then
		echo "$lang: attach --pid $FPID failed: $(cat "$TMP/attach.err")"
		return 1
	fi
	timeout 300 "$CTL" checkpoint "$id" >"$TMP/checkpoint.out" 2>&1 ||
		{ echo "$lang: checkpoint failed: $(tail -3 "$TMP/checkpoint.out")"; return 1; }
	for r in 1 2 3; do
		secret=$(random_secret) || { echo "no random secret"; return 1; }
		for sc in "${SCENARIOS[@]}"; do
			[ -z "${NO_SCENARIO[$lang/$sc]}" ] || continue
			fn_ask "plant $sc $secret" || return 1
			expect "$lang: invocation $r: plant $sc" "$ANSWER" "done" || return 1
		done
		fn_ask "search all $secret" || return 1
		for sc in "${SCENARIOS[@]}"; do
			[ -z "${NO_SCENARIO[$lang/$sc]}" ] || continue
			grep -Eq "${OWN_PLACE[$sc]}" <<<"${ANSWER#found }" ||
				{ echo "$lang: invocation $r: before the rewind, $sc's place not found: $ANSWER"; return 1; }
		done
		timeout 300 "$CTL" rewind "$id" --verify >"$TMP/rewind.out" 2>&1
		rc=$?
		[ $rc = 0 ] || { echo "$lang: invocation $r: rewind --verify exited $rc: $(tail -3 "$TMP/rewind.out")"; return 1; }
		fn_ask "search all $secret" || { echo "$lang: function unusable after rewind $r"; return 1; }
		[ "$ANSWER" = clean ] ||
			{ echo "$lang: LEAK after rewind $r of the same checkpoint, found at: ${ANSWER#found }"; return 1; }
	done
	timeout 300 "$CTL" detach "$id" >/dev/null || { echo "$lang: detach failed"; return 1; }
	stop_fn
}

if [ "$(id -u)" = 0 ]; then
	start_daemon || echo "rewindd did not start" >&2
fi
for l in "${LANGS[@]}"; do
	for s in "${SCENARIOS[@]}"; do
		[ -z "${NO_SCENARIO[$l/$s]}" ] || continue
		run_test "leak_${l}_${s}_norewind" fn_case leak_norewind "$l" "$s"
		run_test "leak_${l}_${s}_rewind" fn_case leak_rewind "$l" "$s"
	done
	run_test "leak_${l}_all_3cycles" fn_case leak_all_cycles "$l"
done

