#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Pages of private file mappings first written after the checkpoint (copy on
# write of a page that was still the file's: an interpreter's .data, a
# library's), on real workloads.
#
#   filecow_rewind        tests/integ/filecow maps a file MAP_PRIVATE three
#       times (writable; read-only made writable and back; read-only made
#       writable and left so); each invocation writes the file's pages, a
#       page absent at the checkpoint and one copied before it; rewind
#       --verify, then every page must read as at the checkpoint (the file's
#       bytes). Three invocations on one checkpoint: the next first write is
#       seen again.
#   filecow_norewind      its twin: the same writes persist without rewind.
#   filecow_file_changed_fails_closed  the mapped file changes after the
#       checkpoint: the rewind fails closed, naming it.
#   workload_python_rewind   /usr/bin/python3 (tests/workload/interp.py),
#       checkpointed before anything wrote its .data: 200 invocations
#       (random.random(), dict/list churn, an import of a stdlib module,
#       C extensions among them), each followed by rewind --verify; every
#       one must answer as the first did, and the state digest must be the
#       checkpoint's at the end.
#   workload_python_norewind its twin: without rewind the answers and the
#       state drift.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

FILECOW=$PWD/$OUTPUT/tests/integ/filecow
WORKLOAD=(/usr/bin/python3 -I "$PWD/tests/workload/interp.py")
REWINDS=${WORKLOAD_REWINDS:-200}
# Not imported by the interpreter at startup (checked: every answer's FRESH is 1).
MODULES=(json decimal fractions statistics csv textwrap difflib ipaddress uuid calendar colorsys
	 dataclasses pprint shlex html.parser urllib.parse zipfile tarfile sqlite3 ctypes zlib bz2
	 lzma pickle array)
# What one filecow invocation changes, as its check lists it.
FILECOW_WRITTEN="fail rw:0 rw:1 rw:4 rw:5 ro:0 ro2:2"

need_daemon() {
	[ "$(id -u)" = 0 ] || { echo "needs root (BPF, ptrace)"; return 77; }
	[ -n "$DAEMON_PID" ] || { echo "rewindd did not start"; return 1; }
}

filecow_rewind() {
	[ -x "$FILECOW" ] || { echo "$FILECOW not built"; return 1; }
	need_daemon || return $?
	start_fn "$FILECOW" "$TMP" || return 1
	fn_attach_checkpoint || return $?
	for r in 1 2 3; do
		fn_ask check || return 1
		expect "invocation $r: before it" "$ANSWER" pass || return 1
		fn_ask go || return 1
		expect "invocation $r" "$ANSWER" done || return 1
		fn_ask check || return 1
		expect "invocation $r: its writes, before the rewind" "$ANSWER" "$FILECOW_WRITTEN" || return 1
		fn_rewind_verify "invocation $r" || return 1
	done
	fn_ask check || return 1
	expect "after the last rewind" "$ANSWER" pass || return 1
	timeout 300 "$CTL" detach "$SID" >/dev/null || { echo "detach failed"; return 1; }
	stop_fn
}

# The file changes under the mapping: the page the rewind would drop would
# read the new bytes, not the checkpoint's. The rewind fails closed, naming it.
filecow_file_changed_fails_closed() {
	[ -x "$FILECOW" ] || { echo "$FILECOW not built"; return 1; }
	need_daemon || return $?
	start_fn "$FILECOW" "$TMP" || return 1
	fn_attach_checkpoint || return $?
	fn_ask go || return 1
	expect "invocation" "$ANSWER" done || return 1
	printf 'changed' | dd of="$TMP/filecow.dat" bs=1 seek=8 conv=notrunc status=none || return 1
	expect_error "filecow.dat, mapped privately at .* changed since the checkpoint" \
		"$CTL" rewind "$SID" --verify || return 1
	expect "session after the refusal" "$("$CTL" status --json | jq -r ".sessions[] | select(.session == $SID) | .state")" failed
}

filecow_norewind() {
	[ -x "$FILECOW" ] || { echo "$FILECOW not built"; return 1; }
	start_fn "$FILECOW" "$TMP" || return 1
	fn_ask check || return 1
	expect "before any invocation" "$ANSWER" pass || return 1
	fn_ask go || return 1
	expect "invocation 1" "$ANSWER" done || return 1
	fn_ask check || return 1
	expect "the next invocation sees the writes" "$ANSWER" "$FILECOW_WRITTEN" || return 1
	stop_fn
}

workload_python_rewind() {
	[ -x /usr/bin/python3 ] || { echo "/usr/bin/python3 is missing"; return 77; }
	need_daemon || return $?
	local first state0 i m
	start_fn "${WORKLOAD[@]}" || return 1
	fn_ask state || return 1
	state0=$ANSWER
	fn_attach_checkpoint || return $?
	for ((i = 0; i < REWINDS; i++)); do
		m=${MODULES[i % ${#MODULES[@]}]}
		fn_ask "go $m" || { echo "invocation $i: no answer"; return 1; }
		case "$ANSWER" in
		"done "*" 1 1") ;;
		*) echo "invocation $i (import $m): after $i rewinds it answered '$ANSWER', want 'done R 1 1'"; return 1 ;;
		esac
		[ -n "${first:-}" ] || first=$ANSWER
		expect "invocation $i (import $m): the same draw as the first" "${ANSWER% * *}" "${first% * *}" || return 1
		fn_rewind_verify "invocation $i (import $m)" || return 1
	done
	fn_ask state || return 1
	expect "state after $REWINDS rewinds" "$ANSWER" "$state0" || return 1
	timeout 300 "$CTL" detach "$SID" >/dev/null || { echo "detach failed"; return 1; }
	stop_fn
}

workload_python_norewind() {
	[ -x /usr/bin/python3 ] || { echo "/usr/bin/python3 is missing"; return 77; }
	local a b state0
	start_fn "${WORKLOAD[@]}" || return 1
	fn_ask state || return 1
	state0=$ANSWER
	fn_ask "go json" || return 1
	a=$ANSWER
	fn_ask "go json" || return 1
	b=$ANSWER
	case "$a" in "done "*" 1 1") ;; *) echo "first invocation answered '$a'"; return 1 ;; esac
	case "$b" in "done "*" 2 0") ;; *) echo "without rewind the second invocation answered '$b', want 'done R 2 0'"; return 1 ;; esac
	[ "${a% * *}" != "${b% * *}" ] || { echo "without rewind the draw repeated: $a / $b"; return 1; }
	fn_ask state || return 1
	[ "$ANSWER" != "$state0" ] || { echo "without rewind the state digest did not change"; return 1; }
	stop_fn
}

if [ "$(id -u)" = 0 ]; then
	start_daemon || echo "rewindd did not start" >&2
fi
run_test filecow_norewind fn_case filecow_norewind
run_test filecow_rewind fn_case filecow_rewind
run_test filecow_file_changed_fails_closed fn_case filecow_file_changed_fails_closed
run_test workload_python_norewind fn_case workload_python_norewind
run_test workload_python_rewind fn_case workload_python_rewind
