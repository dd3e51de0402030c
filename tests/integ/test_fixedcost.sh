#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The fixed cost's shortcuts: what a rewind no longer reads or sends, and the
# cases where the log cannot vouch, which must still be read.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

ADOPTER=$PWD/$OUTPUT/tests/integ/adopter
# A fork by the target itself (logged: /proc is read): zdtm_fork_child in test_rewind.sh.
TESTS=(adopted_child_cgroup adopted_child_cgroup_leaks_without_rewind adopted_child_pid brief_answer
       answers_to_a_full_socket)
only_tests FIXEDCOST_ONLY
require_root "${TESTS[@]}"
start_daemon || { for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done; exit 0; }

make_cgroup() {
	local root
	root=$(cgroup2_root)
	[ -n "$root" ] || { echo "no cgroup v2 mount"; return 77; }
	CG=$root/$CG_NAME-$1
	mkdir -p "$CG" || return 1
}


# gone PID WHAT: PID no longer runs (gone, or a zombie).
gone() {
	local state
	state=$(awk '$1 == "State:" { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -z "$state" ] || [ "$state" = Z ] || { echo "$2 (pid $1) still runs (State $state)"; return 1; }
}

rewind_verified() {
	local out
	out=$(rwctl rewind "$1" --verify --json 2>&1) || { echo "rewind --verify failed: $out"; return 1; }
	expect "rewind verified" "$(jq -r .rewind.verified <<<"$out")" true
}

# Its stderr to a file: a helper or child left alive must not hold run_test's capture open.
start_adopter() {
	coproc TGT { exec "$ADOPTER" 2>>"$TMP/adopter.err"; }
	TPID=$TGT_PID
	exec {TIN}>&"${TGT[1]}" {TOUT}<&"${TGT[0]}"
	read -r READY <&"$TOUT" || return 1
	HELPER=${READY#ready }
	echo "$HELPER" >>"$TMP/adopted.pids"
}

# What a failed test leaves running (run_test's subshell noted them): helpers, children they made.
kill_adopted() {
	local p
	for p in $(cat "$TMP/adopted.pids" 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	rm -f "$TMP/adopted.pids"
}

# The child an invocation made, noted for kill_adopted.
kid_of_done() {
	KID=${DONE#done }
	echo "$KID" >>"$TMP/adopted.pids"
}

# The helper stays outside the cgroup: untracked, its clone(CLONE_PARENT) is
# logged by nobody, yet it gives a process of the checkpoint a child. The
# log cannot vouch for children at a cgroup session's first rewind: /proc is
# read and the child killed (and the helper, so that later rewinds can trust the log).
adopted_child_cgroup() {
	local id kid
	make_cgroup adopt || return $?
	start_adopter || return 1
	echo "$TPID" >"$CG/cgroup.procs" || return 1
	id=$(rwctl attach --cgroup "$CG") || return 1
	rwctl checkpoint "$id" >/dev/null || return 1
	invoke || return 1
	kid_of_done
	kid=$KID
	[ "$kid" -gt 0 ] || { echo "no child made: $DONE"; return 1; }
	rewind_verified "$id" || return 1
	gone "$kid" "the child the helper made for the target" || return 1
	gone "$HELPER" "the helper (a child of the target, not in the checkpoint)" || return 1
	rwctl detach "$id" >/dev/null
	stop_target
	remove_cgroup "$CG"
}

# The twin: without the rewind, the adopted child lives on.
adopted_child_cgroup_leaks_without_rewind() {
	local id kid
	make_cgroup adopt2 || return $?
	start_adopter || return 1
	echo "$TPID" >"$CG/cgroup.procs" || return 1
	id=$(rwctl attach --cgroup "$CG") || return 1
	rwctl checkpoint "$id" >/dev/null || return 1
	invoke || return 1
	kid_of_done
	kid=$KID
	kill -0 "$kid" 2>/dev/null || { echo "the child $kid is not running"; return 1; }
	grep -qx "$TPID" <(awk '$1 == "PPid:" { print $2 }' "/proc/$kid/status") ||
		{ echo "the child $kid is not the target's"; return 1; }
	rwctl detach "$id" >/dev/null
	kill -9 "$kid"
	stop_target
	remove_cgroup "$CG"
}

# pid mode: the helper is tracked (checkpointed with the target), its clone
# is logged: the shortcut is not taken, and the child goes, twice.
adopted_child_pid() {
	local id kid cycle
	start_adopter || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	rwctl checkpoint "$id" >/dev/null || return 1
	for cycle in 1 2; do
		invoke || return 1
		kid_of_done
		kid=$KID
		rewind_verified "$id" || { echo "(cycle $cycle)"; return 1; }
		gone "$kid" "the child the helper made for the target (cycle $cycle)" || return 1
		kill -0 "$HELPER" || { echo "the helper, in the checkpoint, was killed"; return 1; }
	done
	expect "session state" "$(rwctl status "$id" --json | jq -r '.sessions[0].state')" active
}

# One request line on the session's socket, its answer.
raw_request() {
	/usr/bin/python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().readline().strip())
PY
}

# "brief": counters and timings, no report nor plans; the report is still kept.
brief_answer() {
	local id out
	start_target pages37 || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	rwctl checkpoint "$id" >/dev/null || return 1
	invoke || return 1
	out=$(raw_request "{\"cmd\":\"rewind\",\"session\":$id,\"verify\":true,\"brief\":true}")
	expect "ok" "$(jq -r .ok <<<"$out")" true || { echo "$out"; return 1; }
	expect "verified" "$(jq -r .rewind.verified <<<"$out")" true || return 1
	# 37 pages of its region, and its stack.
	[ "$(jq -r .rewind.pages_copied <<<"$out")" -ge 37 ] || { echo "pages copied: $out"; return 1; }
	expect "stages" "$(jq -r '.rewind.timing_ns | has("stop") and has("total")' <<<"$out")" true || return 1
	expect "report in a brief answer" "$(jq -r 'has("report")' <<<"$out")" false || return 1
	expect "plans in a brief answer" "$(jq -r '.rewind | has("plan")' <<<"$out")" false || return 1
	expect "the invocation's report, kept" "$(report_of "$id" 1 | jq -r .invocation)" 1 || return 1
	invoke || return 1
	out=$(raw_request "{\"cmd\":\"rewind\",\"session\":$id,\"verify\":true}")
	expect "report in a full answer" "$(jq -r '.report.invocation' <<<"$out")" 2 || return 1
	expect "plans in a full answer" "$(jq -r '.rewind.plan | length' <<<"$out")" 1
}

# Answers are written at once; one the socket cannot take waits for EPOLLOUT, and
# meanwhile that client is not read and the others are served. Pipelined
# requests whose answers overflow both socket buffers, not read until another
# client was answered: all answered, in order.
answers_to_a_full_socket() {
	local r
	r=$(/usr/bin/python3 - "$SOCK" "$CTL" <<'PY'
import json, socket, subprocess, sys, threading
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(60)	# an answer never flushed fails, not hangs
n = 20000
def send():
	# Blocks once rewindd stops reading us (an answer pending): hence a thread.
	s.sendall(b'{"cmd":"status"}\n' * (n - 1) + b'{"cmd":"mark","session":99}\n')
	s.shutdown(socket.SHUT_WR)
sender = threading.Thread(target=send)
sender.start()
# Another client is answered while this one reads nothing.
other = subprocess.run([sys.argv[2], "status"], capture_output=True, timeout=60)
f = s.makefile()
lines = [f.readline() for _ in range(n)]
oks = [json.loads(l)["ok"] for l in lines]
bufs = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) + int(open("/proc/sys/net/core/wmem_default").read())
sender.join()
print(other.returncode, oks.count(True), oks[-1], "overflowed" if sum(map(len, lines)) > bufs else "fits")
PY
)
	expect "other client's status, answers, last one, buffers" "$r" "0 19999 False overflowed"
}

for t in "${TESTS[@]}"; do
	run_test "$t" "$t"
	kill_adopted
done
for CG in "$(cgroup2_root)/$CG_NAME"-*; do
	remove_cgroup "$CG"
done
