#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Faults from outside rewindd: a storm of events that overflows the ring
# buffer for several sessions at once (drops are counted and the rewinds,
# which then trust the scan, not the log, still verify); a state directory
# that is full at the checkpoint (refused cleanly, nothing held, nothing
# left) or read-only at the rewind (the stores are only read: it verifies);
# a session table full of sessions whose processes and clients are gone
# (containers killed with their proxies) is taken back at the next attach.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

TESTS=(faults_storm_leaks_without_rewind faults_storm_of_drops_rewound faults_state_dir_full
       faults_state_dir_read_only faults_many_fds_under_a_low_limit
       faults_full_table_refuses faults_abandoned_sessions_reclaimed)
only_tests FAULTS_ONLY
require_root "${TESTS[@]}"

STRIPES=3000
declare -A KEYS=()
SMALL=$TMP/small-state
W=$TMP/tree

# start_stripes N: N targets ("stripes"), each its own session on the extra daemon "storm".
start_stripes() {
	local i
	PIDS=() INS=() OUTS=() SUMS=() SIDS=()
	for ((i = 0; i < $1; i++)); do
		coproc STRIPE { exec "$TARGET" stripes $STRIPES; }
		PIDS+=("$STRIPE_PID")
		exec {fin}>&"${STRIPE[1]}" {fout}<&"${STRIPE[0]}"
		INS+=("$fin") OUTS+=("$fout")
		read -r READY <&"$fout" || return 1
		SUMS+=("${READY##* }")
	done 2>/dev/null
}

stripe_ask() {
	echo "$2" >&"${INS[$1]}" && read -t 60 -r ANSWER <&"${OUTS[$1]}"
}

stop_stripes() {
	local i
	for i in "${!PIDS[@]}"; do
		echo exit >&"${INS[$i]}" 2>/dev/null
		exec {INS[$i]}>&- {OUTS[$i]}<&-
		wait "${PIDS[$i]}" 2>/dev/null
	done
}

# The twin: the invocations' writes are there without a rewind.
faults_storm_leaks_without_rewind() {
	start_stripes 1 || return 1
	stripe_ask 0 go && stripe_ask 0 check || return 1
	[ "$ANSWER" != "sum ${SUMS[0]}" ] || { echo "the invocation left no trace"; stop_stripes; return 1; }
	stop_stripes
}

# Three sessions write 3,000 pages each while rewindd is stopped: a 4 KiB
# ring overflows for every one of them. Each rewind verifies, each target is
# its checkpoint again, and the report counts the drops.
faults_storm_of_drops_rewound() {
	local i dpid dropped rc=0
	start_extra_daemon storm --ringbuf-size 4096 || return 1
	dpid=$(cat "$TMP/storm.extra.pid")
	start_stripes 3 || return 1
	for i in 0 1 2; do
		SIDS+=("$(rwctl --socket "$TMP/storm.sock" attach --pid "${PIDS[$i]}")") || rc=1
		rwctl --socket "$TMP/storm.sock" checkpoint "${SIDS[$i]}" >/dev/null || rc=1
	done
	kill -STOP "$dpid"
	for i in 0 1 2; do stripe_ask "$i" go || rc=1; done
	kill -CONT "$dpid"
	for i in 0 1 2; do
		[ $rc = 0 ] || break
		rwctl --socket "$TMP/storm.sock" rewind "${SIDS[$i]}" --verify >/dev/null || { echo "rewind $i failed"; rc=1; break; }
		dropped=$(rwctl --socket "$TMP/storm.sock" report "${SIDS[$i]}" --json | jq 'select(.invocation == 1) | .dropped')
		[ "${dropped:-0}" -gt 0 ] || { echo "session ${SIDS[$i]}: no drops counted ($dropped)"; rc=1; }
		stripe_ask "$i" check || rc=1
		expect "target $i after its rewind" "$ANSWER" "sum ${SUMS[$i]}" || rc=1
	done
	stop_stripes
	return $rc
}

# with_small_state TEST: TEST runs against the extra rewindd "small", whose
# state directory is a 256 KiB tmpfs (SMALL), and the target; whatever TEST
# does, all three are gone afterwards.
with_small_state() {
	local rc=0
	mkdir -p "$SMALL" && mount -t tmpfs -o size=256k,mode=0700 rewindd-test "$SMALL" ||
		{ echo "cannot mount a tmpfs"; return 1; }
	start_extra_daemon small --state-dir "$SMALL" && start_target stripes 16 && "$@" || rc=1
	stop_target
	kill_and_wait "$(cat "$TMP/small.extra.pid")"
	rm -f "$TMP/small.extra.pid"
	mount -o remount,rw "$SMALL" 2>/dev/null
	umount "$SMALL"
	return $rc
}

small() {
	rwctl --socket "$TMP/small.sock" "$@"
}

# A state directory too small for the tree's content: the checkpoint is
# refused naming the store, the process runs on un-held, the session holds
# no checkpoint, and nothing of the store is left behind.
faults_state_dir_full() { with_small_state state_dir_full; }
state_dir_full() {
	local sid out
	mkdir -p "$W" && head -c 1048576 /dev/urandom >"$W/big" || return 1
	sid=$(small attach --pid "$TPID" --watch "$W") || return 1
	out=$(small checkpoint "$sid" 2>&1) && { echo "checkpoint succeeded: $out"; return 1; }
	grep -q "No space left on device" <<<"$out" || { echo "message: $out"; return 1; }
	grep -q "no checkpoint is held" <<<"$out" || { echo "message: $out"; return 1; }
	invoke || return 1	# it runs on
	# The session's record stays (it is attached); no content does.
	[ -z "$(find "$SMALL" -type f ! -name 'session-*.json')" ] ||
		{ echo "left in the state dir: $(find "$SMALL" -type f | head -3)"; return 1; }
	expect "checkpointed" "$(small status "$sid" --json | jq '.sessions[0].checkpointed')" false
}

# Read-only after the checkpoint: a rewind only reads the stores.
faults_state_dir_read_only() { with_small_state state_dir_read_only; }
state_dir_read_only() {
	local sid
	mkdir -p "$W" && echo checkpoint >"$W/f" || return 1
	sid=$(small attach --pid "$TPID" --watch "$W") && small checkpoint "$sid" >/dev/null || return 1
	mount -o remount,ro "$SMALL" || return 1
	invoke || return 1
	echo invocation >"$W/f"
	echo new >"$W/g"
	small rewind "$sid" --verify >/dev/null || return 1
	expect "the watched file" "$(cat "$W/f")" checkpoint || return 1
	[ ! -e "$W/g" ] || { echo "$W/g survived the rewind"; return 1; }
	ask check || return 1
	expect "the target" "$ANSWER" "sum ${READY##* }"
}

# rewindd started with a soft fd limit of 64 checkpoints a process with 200
# fds (it holds a reference to each): it raised its limit to the hard one.
faults_many_fds_under_a_low_limit() {
	local dpid sid soft hard
	(ulimit -Sn 64 && start_extra_daemon nofile) || return 1
	dpid=$(cat "$TMP/nofile.extra.pid")
	read -r soft hard < <(awk '/^Max open files/ {print $4, $5}' "/proc/$dpid/limits")
	expect "rewindd's soft fd limit" "$soft" "$hard" || return 1
	start_fn /usr/bin/python3 -c '
import os, sys
fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(200)]
print("ready", len(fds), flush=True)
for line in sys.stdin:
    if line.strip() == "exit":
        break
    fds.append(os.open("/dev/null", os.O_RDONLY))
    print("done", len(fds), flush=True)' || return 1
	sid=$(rwctl --socket "$TMP/nofile.sock" attach --pid "$FPID") &&
		rwctl --socket "$TMP/nofile.sock" checkpoint "$sid" >/dev/null || return 1
	fn_ask go || return 1
	expect "fds after one invocation" "$ANSWER" "done 201" || return 1
	rwctl --socket "$TMP/nofile.sock" rewind "$sid" --verify >/dev/null || return 1
	fn_ask go || return 1
	expect "fds after the rewind and one more invocation" "$ANSWER" "done 201"
}

# fill_table NAME: every slot of daemon NAME's session table taken by a
# checkpointed session of one process of its own (SLEEPERS: their pids;
# KEYS: each session's key, by number).
fill_table() {
	local i sid pid out
	SLEEPERS=() KEYS=()
	for ((i = 1; i < 256; i++)); do
		sleep 1000 &
		pid=$!
		SLEEPERS+=("$pid")
		out=$(rwctl --socket "$TMP/$1.sock" --json attach --pid "$pid") &&
			sid=$(jq -r .session <<<"$out") || { echo "attach: $out"; return 1; }
		KEYS[$sid]=$(jq -r .key <<<"$out")
		[ -n "$sid" ] &&
			rwctl --socket "$TMP/$1.sock" checkpoint "$sid" >/dev/null ||
			{ echo "session $i of 255: not checkpointed"; return 1; }
	done
}

end_sleepers() {
	kill -KILL "${SLEEPERS[@]}" 2>/dev/null
	wait "${SLEEPERS[@]}" 2>/dev/null
}

# The twin: while their processes run, a full table refuses the next attach.
faults_full_table_refuses() {
	start_extra_daemon table || return 1
	fill_table table || { end_sleepers; return 1; }
	sleep 1000 &
	SLEEPERS+=("$!")
	expect_error "too many sessions" rwctl --socket "$TMP/table.sock" attach --pid "$!"
	local rc=$?
	end_sleepers
	return $rc
}

# The processes die and nobody detaches their sessions: the next attach takes
# their slots back, logging each, and the daemon serves on.
faults_abandoned_sessions_reclaimed() {
	local sid n answer
	start_extra_daemon table || return 1
	fill_table table || { end_sleepers; return 1; }
	end_sleepers
	start_fn /usr/bin/python3 -c '
import sys
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "exit":
        break
    print("done", flush=True)' || return 1
	sid=$(rwctl --socket "$TMP/table.sock" attach --pid "$FPID") || return 1
	n=$(grep -c "no process of it is left and the session table is full: detached" "$TMP/table.log")
	expect "sessions taken back" "$n" 255 || return 1
	# A client of a session taken back never reaches the one that took its number.
	[ -n "${KEYS[$sid]:-}" ] || { echo "session $sid was not one of the table's"; return 1; }
	answer=$(request_line "$TMP/table.sock" \
		"{\"cmd\":\"rewind\",\"session\":$sid,\"key\":${KEYS[$sid]}}") || return 1
	grep -q '"ok": *false.*is another session now' <<<"$answer" || { echo "answer: $answer"; return 1; }
	rwctl --socket "$TMP/table.sock" checkpoint "$sid" >/dev/null && fn_ask go &&
		rwctl --socket "$TMP/table.sock" rewind "$sid" --verify >/dev/null || return 1
	expect "sessions listed" "$(rwctl --socket "$TMP/table.sock" status --json | jq '.sessions | length')" 1
}

for t in "${TESTS[@]}"; do
	run_test "$t" fn_case "$t"
	rm -rf "$W"
done
