#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Checkpoint/rewind end to end, in the shape of CRIU's zdtm: the program of
# tests/zdtm sets up one scenario's state, the invocation ("go") changes it,
# and after `rewind --verify` its own "check" must find the state it recorded.
# Each scenario also proves once that its check fails when no rewind happens.
# Then: cgroup mode, 1000 cycles without drift, and fail-closed rewinds.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

# Every copy of pages goes through the in-target restorer alone (restore.c), whatever
# its measured speed and with nothing copied beside it: every scenario below is then
# byte-exact through it, and the restorer_* scenarios can check it was used.
# rewind_copy_beside runs its own daemon without this.
export REWINDD_RESTORER=always
# Every scenario also exercises the scan-skipping rule (user/lib/rewind/observe.c,
# on by default), under --verify: the environment must not force the scan.
unset REWINDD_SCAN

# Every target of this script is the zdtm program.
TARGET=$PWD/$OUTPUT/tests/zdtm/zdtm
# 1 = every rewind of the 1000-cycle test is verified; N = every Nth.
CYCLE_VERIFY_EVERY=${CYCLE_VERIFY_EVERY:-1}

# The scenarios are registered in tests/zdtm/*.c: the program lists them.
ZDTM_LIST=$("$TARGET" --list 2>&1)
ZDTM_LIST_RC=$?
SCENARIOS=()
[ $ZDTM_LIST_RC = 0 ] && [ -n "$ZDTM_LIST" ] && mapfile -t SCENARIOS <<<"$ZDTM_LIST"
SELF_TESTS=(zdtm_list) REWIND_TESTS=()
for s in "${SCENARIOS[@]}"; do
	SELF_TESTS+=("zdtm_${s}_fails_without_rewind")
	REWIND_TESTS+=("zdtm_$s" "zdtm_cgroup_$s")
done
OTHER_TESTS=(rewind_sleeper_late_leaks_without_rewind rewind_sleeper_woken_mid_rewind rewind_sleepers_left_again_after_a_wake rewind_recheckpoint_one_image rewind_copy_way_measured rewind_copy_beside rewind_copy_beside_leaves_sleepers rewind_sleeper_unmaps_leaks_without_rewind rewind_sleeper_unmaps_mid_copy rewind_cgroup_fork rewind_cgroup_joiner rewind_1000_cycles rewind_hot_pages rewind_hot_pages_after_walk rewind_hot_pages_unfaulted rewind_gup_outside rewind_gup_elsewhere fail_iouring_worker fail_thread_exited_kill
	     fail_thread_exited_stop fail_target_died fail_seccomp_installed fail_rewind_before_checkpoint
	     rewind_seccomp_filter_after_release fail_creds_euid fail_creds_capdrop fail_creds_thread_uid fail_seccomp_thread
	     fail_cgroup_move_pid fail_cgroup_leave fail_keys_session fail_prctl_tsc fail_mseal report_pstate
	     rewind_ns_uts rewind_ns_net rewind_socketpair_own_netns fail_ns_user fail_pgrp_new fail_mount_tmpfs fail_tree_child_exited fail_closed_rolls_back_tree_kill fail_closed_rolls_back_tree_stop fail_ipc_removed rewind_ipc_untouched report_ipc_calls)
# ZDTM_ONLY=REGEX runs only the tests whose names match (while debugging one).
only_tests ZDTM_ONLY SELF_TESTS REWIND_TESTS OTHER_TESTS
require_root "${SELF_TESTS[@]}" "${REWIND_TESTS[@]}" "${OTHER_TESTS[@]}"

# Cgroups of this script are $CG_NAME-*; lib.sh's cleanup knows only $CG_NAME.
zdtm_cleanup() {
	local cg key
	# ipc_host_shm's twin leaves its segment in the host's IPC namespace (tests/zdtm/ipc.c).
	for key in $(awk '$1 != "key" { print $1 }' /proc/sysvipc/shm); do
		(( (key & 0x7f000000) == 0x7a000000 )) && ipcrm -M "$key" 2>/dev/null
	done
	for cg in "$(cgroup2_root)/$CG_NAME"-*; do
		remove_cgroup "$cg"
	done
	cleanup
}
trap zdtm_cleanup EXIT

# The target's stderr goes to a file, not into run_test's capture pipe: a copy
# of it held elsewhere (rewindd keeps the checkpoint's fds) must not keep
# run_test waiting for the end of the test's output.
start_zdtm() {
	start_target "$@" 2>>"$TMP/targets.err"
}

# rewindctl, bounded: an engine that hangs fails one test, not the whole run.

# ask COMMAND: one line to the target, its answer in ANSWER. A target that
# stops answering fails the test instead of hanging the suite.

# invoke with a bounded wait ("done ..." in DONE).
invoke() {
	ask go || return 1
	DONE=$ANSWER
	case "$DONE" in done*) ;; *) echo "target said: $DONE"; return 1 ;; esac
}

check_passes() {
	ask check || return 1
	[ "$ANSWER" = pass ] || { echo "check $1: $ANSWER"; return 1; }
}

# The pid's State letter from /proc (empty when it is gone).
proc_state() {
	awk '$1 == "State:" { print $2 }' "/proc/$1/status" 2>/dev/null
}

tracer_of() {
	awk '$1 == "TracerPid:" { print $2 }' "/proc/$1/status" 2>/dev/null
}

# Before `wait PID` on a dead target: a zombie that rewindd still traces cannot
# be reaped by its parent, and wait would block for ever. Bounded poll of /proc.
# expect_killed PID WHAT: our child PID was killed with SIGKILL (by rewindd), and can be reaped.
expect_killed() {
	local state
	state=$(proc_state "$1")
	if [ -n "$state" ] && [ "$state" != Z ]; then
		echo "$2 is still alive (State $state)"
		kill -9 "$1"
		return 1
	fi
	await_reapable "$1" || return 1
	wait "$1"
	expect "$2: exit status" $? 137	# 128 + SIGKILL
}

await_reapable() {
	local end=$((SECONDS + 10))
	while [ $SECONDS -lt $end ]; do
		[ "$(proc_state "$1")" = Z ] && [ "$(tracer_of "$1")" = 0 ] && return 0
		[ -e "/proc/$1" ] || return 0
	done
	echo "pid $1 (State $(proc_state "$1")) is still traced by pid $(tracer_of "$1"): its parent cannot reap it"
	return 1
}

vmrss_kb() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

session_field() {
	rwctl status "$1" --json | jq -r ".sessions[0].$2"
}

# tree_pids PID: PID and its descendants, one a line.
tree_pids() {
	local c
	echo "$1"
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		tree_pids "$c"
	done
}

# checkpoint ID: must succeed and count the target with its descendants (pid
# mode checkpoints the tree) and their threads.
checkpoint() {
	local out threads=0 procs=0 p
	for p in $(tree_pids "$TPID"); do
		procs=$((procs + 1)) threads=$((threads + $(ls "/proc/$p/task" | wc -l)))
	done
	out=$(rwctl checkpoint "$1" --json 2>&1) || { echo "checkpoint failed: $out"; return 1; }
	expect "checkpoint ok" "$(jq -r .ok <<<"$out")" true || return 1
	expect "checkpoint processes" "$(jq -r .checkpoint.processes <<<"$out")" "$procs" || return 1
	expect "checkpoint threads" "$(jq -r .checkpoint.threads <<<"$out")" "$threads"
}

# rewind ID: `rewind --verify` must exit 0 and say verified; JSON in REWIND_JSON.
rewind_verified() {
	REWIND_JSON=$(rwctl rewind "$1" --verify --json 2>&1) ||
		{ echo "rewind --verify failed: $REWIND_JSON"; return 1; }
	expect "rewind verified" "$(jq -r .rewind.verified <<<"$REWIND_JSON")" true
}

# ---- per scenario: assertions from outside the target ------------------------------
# before_S runs once the target is ready, after_S after each rewind and check.

after_fork_child() {
	local child=${DONE#done }
	if kill -0 "$child" 2>/dev/null; then
		echo "child $child survived the rewind (State $(proc_state "$child"))"
		kill -9 "$child"
		return 1
	fi
}
# The helper forked before the checkpoint was rewound, not killed nor replaced.
helper_child_pid() { sed -n 's/.* child=\([0-9]*\).*/\1/p' <<<"$READY"; }
after_helper_child() {
	local child
	child=$(helper_child_pid)
	[ -n "$child" ] || { echo "no child= in '$READY'"; return 1; }
	expect "the helper child's state" "$(proc_state "$child")" S || return 1
	expect "its parent" "$(awk '$1 == "PPid:" { print $2 }' "/proc/$child/status")" "$TPID" || return 1
	expect "processes killed" "$(jq -r .rewind.processes_killed <<<"$REWIND_JSON")" 0
}
after_thread_running() {
	local tid=${DONE#done }
	[ ! -e "/proc/$TPID/task/$tid" ] || { echo "thread $tid survived the rewind"; return 1; }
	expect "threads after the rewind" "$(ls "/proc/$TPID/task" | wc -l)" 1
}
after_thread_blocked() { after_thread_running; }
# tests/zdtm/thread_exit.c: the worker that exited is back with its tid.
after_thread_exit_back() {
	local tid=${DONE#done }
	[ -e "/proc/$TPID/task/$tid" ] || { echo "thread $tid was not recreated"; return 1; }
	expect "threads recreated" "$(jq -r .rewind.threads_recreated <<<"$REWIND_JSON")" 1
}
after_thread_exit_robust() { after_thread_exit_back; }
after_threads_blocked() { expect "threads after the rewind" "$(ls "/proc/$TPID/task" | wc -l)" 5; }
# tests/zdtm/sleepers.c: workers that slept through were left running through
# the restore, and verified (held and proven still) after it; a woken one was not.
after_sleepers() { expect "threads left asleep" "$(jq -r .rewind.threads_asleep <<<"$REWIND_JSON")" 3; }
# A requeue moves a waiter without waking it: every worker is stopped (the
# check's wake on the worker's own word says it waits there again).
after_sleeper_requeued() {
	expect "threads left asleep" "$(jq -r .rewind.threads_asleep <<<"$REWIND_JSON")" 0
}
# REWINDD_RESTORER=always here: the restorer alone, the workers left asleep.
after_sleepers_big() { after_sleepers; }
after_sleeper_woken() {
	expect "threads left asleep" "$(jq -r .rewind.threads_asleep <<<"$REWIND_JSON")" 2
}
after_thread_pool() { expect "threads after the rewind" "$(ls "/proc/$TPID/task" | wc -l)" 5; }
after_fd_new() {
	local fd
	for fd in ${DONE#done }; do
		[ ! -e "/proc/$TPID/fd/$fd" ] || { echo "fd $fd survived the rewind"; return 1; }
	done
}
after_chdir() { expect "cwd" "$(readlink "/proc/$TPID/cwd")" /tmp; }
after_umask() { expect "umask" "$(awk '$1 == "Umask:" { print $2 }' "/proc/$TPID/status")" 0022; }
after_timer_create() { expect "POSIX timers" "$(cat "/proc/$TPID/timers")" ""; }
sigblk() { awk '$1 == "SigBlk:" { print $2 }' "/proc/$TPID/status"; }
before_sigprocmask() { SIGBLK0=$(sigblk); }
after_sigprocmask() { expect "SigBlk of the main thread" "$(sigblk)" "$SIGBLK0"; }
after_pending_signal() {
	expect "ShdPnd" "$(awk '$1 == "ShdPnd:" { print $2 }' "/proc/$TPID/status")" 0000000000000000
}
# Without a huge page the scenario would not test what it is named after.
before_thp() {
	case "$READY" in *AnonHugePages=0kB*) echo "no transparent huge page backs the region: $READY"; return 77 ;; esac
}
after_dup2_stdin() {
	expect "fd 0" "$(readlink "/proc/$TPID/fd/0")" "$(readlink "/proc/$TPID/fd/10")"
}
# The rewind's count FIELD is at least MIN (NOTE: why, when it is not).
count_at_least() {
	local n
	n=$(jq -r ".rewind.$1" <<<"$REWIND_JSON")
	[ "$n" -ge "$2" ] 2>/dev/null || { echo "$1 $n, want >= $2${3:+ ($3)}"; return 1; }
}
# 200 separate written pages that were absent at the checkpoint: zero-filled, not one
# madvise each (a few more, the stack's, may join them).
after_sparse_absent() { count_at_least pages_zero_filled 200; }
# Three written pages that were absent at the checkpoint: zero-filled (no injected
# madvise); the read-only one cannot be: dropped by one injected madvise.
after_few_absent() {
	count_at_least pages_zero_filled 3 &&
		count_at_least syscalls_injected 1 "the read-only page's madvise"
}
# One run of 512 written pages absent at the checkpoint: zero-filled, not dropped
# (the next request would fault each in again).
after_run_absent() { count_at_least pages_zero_filled 512; }
# Three runs of 2,000: a rewind zero-fills 4,096 pages at most (restore.c), so
# two runs are filled and the third is dropped by an injected madvise.
after_huge_absent() {
	local n
	count_at_least pages_zero_filled 4000 "two runs of 2,000" || return 1
	n=$(jq -r .rewind.pages_zero_filled <<<"$REWIND_JSON")
	[ "$n" -lt 6000 ] || { echo "pages zero-filled $n: the third run of 2,000 too, past the budget"; return 1; }
	count_at_least syscalls_injected 1 "the madvise past the budget"
}
after_pages100k() {
	local n
	n=$(jq -r .rewind.pages_restored <<<"$REWIND_JSON")
	[ "$n" -ge 102400 ] 2>/dev/null || { echo "pages_restored $n, want >= 102400"; return 1; }
	# Copied by the target itself from its read-only mapping of the image (restore.c).
	n=$(jq -r .rewind.pages_restorer <<<"$REWIND_JSON")
	[ "$n" -ge 102400 ] 2>/dev/null || { echo "pages_restorer $n, want >= 102400"; return 1; }
}
# tests/zdtm/restorer.c: the region's pages came back through the in-target
# restorer, from its mapping of the image (re-made where the function changed it).
restorer_used() {
	local n
	n=$(jq -r .rewind.pages_restorer <<<"$REWIND_JSON")
	[ "$n" -ge 1024 ] 2>/dev/null || { echo "pages_restorer $n, want >= 1024"; return 1; }
}
# ... from code and a table in its resident area: nothing mapped for them.
restorer_area_resident() {
	local n
	n=$(jq -r .rewind.batch_areas_mapped <<<"$REWIND_JSON")
	expect "batch areas mapped by the rewind" "$n" 0
}
after_restorer_attack() {
	expect "attacks on the image" "$DONE" "done refused" || return 1
	restorer_used
}
after_restorer_munmap() { restorer_used; }
after_restorer_mremap() { restorer_used; }
after_restorer_mmap_over() { restorer_used; }
after_restorer_mprotect() { restorer_used; }
after_restorer_partial() { restorer_used && restorer_area_resident; }
after_restorer_measured() {
	local n
	n=$(jq -r .rewind.pages_restorer <<<"$REWIND_JSON")
	[ "$n" -ge 256 ] 2>/dev/null || { echo "pages_restorer $n, want >= 256"; return 1; }
	restorer_area_resident
}

# ---- the scenarios -----------------------------------------------------------------

# The list came, and every before_/after_ hook above names a scenario in it:
# a hook of a renamed scenario would silently stop asserting.
zdtm_list() {
	local f
	[ $ZDTM_LIST_RC = 0 ] || { echo "$TARGET --list exited $ZDTM_LIST_RC: $ZDTM_LIST"; return 1; }
	[ ${#SCENARIOS[@]} -gt 0 ] || { echo "$TARGET --list named no scenario"; return 1; }
	for f in $(declare -F | awk '$3 ~ /^(before|after)_/ { print $3 }'); do
		[[ " ${SCENARIOS[*]} " == *" ${f#*_} "* ]] || { echo "hook $f: no scenario '${f#*_}' in --list"; return 1; }
	done
}

# Without a rewind the check must see the invocation (and before it, nothing).
zdtm_fails_without_rewind() {
	start_zdtm "$1" || return 1
	check_passes "before any invocation" || return 1
	invoke || return 1
	ask check || return 1
	case "$ANSWER" in
	fail*) ;;
	*) echo "check after an invocation without rewind: '$ANSWER', want 'fail ...'"; return 1 ;;
	esac
	# A second check sees the same: checks do not change what they compare.
	ask check || return 1
	case "$ANSWER" in fail*) ;; *) echo "second check: '$ANSWER'"; return 1 ;; esac
}

# attach (MODE pid, or cgroup: the target alone in a cgroup of its own),
# checkpoint, then twice: invoke, rewind --verify, check.
zdtm_rewind() {
	local s=$1 mode=${2:-pid} id cycle p
	start_zdtm "$s" || return 1
	if declare -F "before_$s" >/dev/null; then
		"before_$s" || return $?
	fi
	if [ "$mode" = cgroup ]; then
		make_cgroup "z-$s" || return $?
		# The target and the children it started at setup (helper_child).
		for p in "$TPID" $(pgrep -P "$TPID"); do
			echo "$p" >"$CG/cgroup.procs" || return 1
		done
		id=$(rwctl attach --cgroup "$CG") || return 1
	else
		id=$(rwctl attach --pid "$TPID") || return 1
	fi
	checkpoint "$id" || return 1
	for cycle in 1 2; do
		invoke || return 1
		rewind_verified "$id" || { echo "(cycle $cycle, target said '$DONE')"; return 1; }
		check_passes "after rewind $cycle" || return 1
		if declare -F "after_$s" >/dev/null; then
			"after_$s" || { echo "(cycle $cycle)"; return 1; }
		fi
	done
	expect "session state" "$(session_field "$id" state)" active || return 1
	rwctl detach "$id" >/dev/null
	if [ "$mode" = cgroup ]; then
		stop_target
		remove_cgroup "$CG"
	fi
}

# Every scenario in both modes: a class must come back whether the session
# follows the process or its cgroup.
for s in "${SCENARIOS[@]}"; do
	eval "zdtm_${s}_fails_without_rewind() { zdtm_fails_without_rewind $s; }"
	eval "zdtm_$s() { zdtm_rewind $s; }"
	eval "zdtm_cgroup_$s() { zdtm_rewind $s cgroup; }"
done

# ---- cgroup mode -------------------------------------------------------------------

make_cgroup() {
	local root
	root=$(cgroup2_root)
	[ -n "$root" ] || { echo "no cgroup v2 mount"; return 77; }
	CG=$root/$CG_NAME-$1
	mkdir -p "$CG" || return 1
}

cgroup_procs() {
	sort -n "$CG/cgroup.procs" | tr '\n' ' '
}

# A child forked by the invocation (so in the cgroup) is gone after the rewind.
rewind_cgroup_fork() {
	local id child before
	make_cgroup fork || return $?
	start_zdtm fork_child || return 1
	echo "$TPID" >"$CG/cgroup.procs" || return 1
	before=$(cgroup_procs)
	id=$(rwctl attach --cgroup "$CG") || return 1
	checkpoint "$id" || return 1
	invoke || return 1
	child=${DONE#done }
	grep -qx "$child" "$CG/cgroup.procs" || { echo "child $child is not in the cgroup"; return 1; }
	rewind_verified "$id" || return 1
	check_passes "after the rewind" || return 1
	after_fork_child || return 1
	expect "cgroup.procs after the rewind" "$(cgroup_procs)" "$before" || return 1
	rwctl detach "$id" >/dev/null
	stop_target
	remove_cgroup "$CG"
}

# A process that joined the cgroup after the checkpoint is killed at rewind.
rewind_cgroup_joiner() {
	local id joiner before
	make_cgroup joiner || return $?
	start_zdtm counter || return 1
	echo "$TPID" >"$CG/cgroup.procs" || return 1
	before=$(cgroup_procs)
	id=$(rwctl attach --cgroup "$CG") || return 1
	checkpoint "$id" || return 1
	tail -f /dev/null &
	joiner=$!
	echo "$joiner" >"$CG/cgroup.procs" || { kill "$joiner"; return 1; }
	invoke || return 1
	rewind_verified "$id" || { kill -9 "$joiner"; return 1; }
	expect_killed "$joiner" "the process that joined after the checkpoint" || return 1
	check_passes "after the rewind" || return 1
	expect "cgroup.procs after the rewind" "$(cgroup_procs)" "$before" || return 1
	rwctl detach "$id" >/dev/null
	stop_target
	remove_cgroup "$CG"
}

# ---- no drift over many cycles ----------------------------------------------------------

rewind_1000_cycles() {
	local id i opt rss_d10 rss_t10 rss_d rss_t
	start_zdtm counter || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	for ((i = 1; i <= 1000; i++)); do
		invoke || { echo "cycle $i"; return 1; }
		# The counter starts from the checkpoint's value every time.
		[ "$DONE" = "done 1001" ] || { echo "cycle $i: target said '$DONE', want 'done 1001'"; return 1; }
		opt=
		((i % CYCLE_VERIFY_EVERY == 0)) && opt=--verify
		rwctl rewind "$id" $opt >/dev/null || { echo "cycle $i: rewind $opt failed"; return 1; }
		if [ $i = 10 ]; then
			rss_d10=$(vmrss_kb "$DAEMON_PID") rss_t10=$(vmrss_kb "$TPID")
		fi
	done
	rss_d=$(vmrss_kb "$DAEMON_PID") rss_t=$(vmrss_kb "$TPID")
	check_passes "after 1000 cycles" || return 1
	# A leak of one page per cycle would be 4 MB: the bound is half of that. Under
	# AddressSanitizer freed memory sits in its quarantine (RSS grows by design):
	# there the daemon's bound is not meaningful, the target's still is.
	if [[ "$OUTPUT" != *asan* ]]; then
		((rss_d - rss_d10 < 2048)) || { echo "rewindd VmRSS grew from ${rss_d10} kB (cycle 10) to ${rss_d} kB (cycle 1000)"; return 1; }
	fi
	((rss_t - rss_t10 < 2048)) || { echo "target VmRSS grew from ${rss_t10} kB (cycle 10) to ${rss_t} kB (cycle 1000)"; return 1; }
	rwctl detach "$id" >/dev/null
}

# Pages written by consecutive invocations are left unprotected (hot) and
# restored at every rewind: verified byte for byte whatever the next
# invocation does with them (writes them, half, nothing, drops them); left
# alone they cool and are tracked again (then only what is written is copied).
# A second checkpoint unmaps the first one's image mapping (it would pin the old
# store and enter the new layout): one mapping after each, and both rewinds exact.
rewind_recheckpoint_one_image() {
	local id n round
	start_zdtm restorer_munmap || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	for round in 1 2 3; do
		checkpoint "$id" || return 1
		n=$(grep -c /memfd:rewindd-image "/proc/$TPID/maps")
		expect "image mappings after checkpoint $round" "$n" 1 || return 1
		n=$(grep -c /memfd:rewindd-restorer "/proc/$TPID/maps")
		expect "restorer areas after checkpoint $round" "$n" 1 || return 1
		invoke || return 1
		rewind_verified "$id" || return 1
		check_passes "after checkpoint $round and its rewind" || return 1
	done
}

# Without REWINDD_RESTORER, each copy takes the way measured faster for this
# process (restore.c: use_restorer): the restorer first, unmeasured, then
# process_vm_writev, unmeasured too, to compare. The restorer's way is
# measured also when it left some runs to process_vm_writev (a page read-only
# in the checkpoint): else it never was, and kept every copy however slow.
# An extra daemon NAME left its own choice of copy (no REWINDD_RESTORER), and
# the zdtm SCENARIO attached to it and checkpointed: the session in XSID.
session_on_own_daemon() {
	(unset REWINDD_RESTORER; start_extra_daemon "$1") || return 1
	start_zdtm "$2" || return 1
	XSID=$(rwctl --socket "$TMP/$1.sock" attach --pid "$TPID") || return 1
	rwctl --socket "$TMP/$1.sock" checkpoint "$XSID" >/dev/null
}
# An invocation, then rewind I of XSID on daemon NAME, verified: its answer in XOUT.
invoke_and_rewind_on() {
	invoke || return 1
	XOUT=$(rwctl --socket "$TMP/$1.sock" rewind "$XSID" --verify --json 2>&1) ||
		{ echo "rewind $2: $XOUT"; return 1; }
}

rewind_copy_way_measured() {
	local i used=()
	session_on_own_daemon costs restorer_measured || return 1
	for i in 1 2; do
		invoke_and_rewind_on costs "$i" || return 1
		used+=("$(jq -r '.rewind.pages_restorer' <<<"$XOUT")/$(jq -r '.rewind.pages_copied' <<<"$XOUT")")
		check_passes "after rewind $i" || return 1
	done
	[[ ${used[0]} == 0/* ]] && { echo "pages by the restorer/copied: ${used[*]}: the first copy did not try the restorer"; return 1; }
	[[ ${used[1]} == 0/* ]] || { echo "pages by the restorer/copied: ${used[*]}: the second copy did not try process_vm_writev"; return 1; }
}

# From 512 pages on, with another CPU, every copy is the restorer's with
# rewindd copying beside it (restore.c: copy_beside): no way is measured, each
# rewind has rewindd's part, and the target's own part is there too (in one
# rewind of three at least: its thread may start late on a busy machine). The
# process's own CPU affinity is as it was after each.
rewind_copy_beside() {
	local i n b before by_target=0
	[ "$(nproc)" -ge 2 ] || { echo "SKIP: one CPU, nothing to copy beside on"; return 77; }
	session_on_own_daemon beside restorer_partial || return 1
	before=$(taskset -p "$TPID" | sed 's/.*: //')
	for i in 1 2 3; do
		invoke_and_rewind_on beside "$i" || return 1
		n=$(jq -r .rewind.pages_restorer <<<"$XOUT")
		[ "$n" -ge 1024 ] 2>/dev/null || { echo "rewind $i: pages_restorer $n, want >= 1024"; return 1; }
		b=$(jq -r .rewind.pages_beside <<<"$XOUT")
		[ "$b" -gt 0 ] 2>/dev/null || { echo "rewind $i: pages_beside $b, want > 0"; return 1; }
		[ "$b" -lt "$n" ] && by_target=$((by_target + 1))
		expect "affinity after rewind $i" "$(taskset -p "$TPID" | sed 's/.*: //')" "$before" || return 1
		check_passes "after rewind $i" || return 1
	done
	[ "$by_target" -ge 1 ] || { echo "in no rewind did the target's restorer copy a page"; return 1; }
}

# tests/zdtm/sleepers.c, sleepers_big: the workers that slept through stay
# asleep, not stopped, while the copy runs beside the restorer; each rewind
# verified, the check wakes none and finds each waiting in its call again.
rewind_copy_beside_leaves_sleepers() {
	local i n
	[ "$(nproc)" -ge 2 ] || { echo "SKIP: one CPU, nothing to copy beside on"; return 77; }
	session_on_own_daemon besidesl sleepers_big || return 1
	for i in 1 2; do
		invoke_and_rewind_on besidesl "$i" || return 1
		n=$(jq -r .rewind.pages_beside <<<"$XOUT")
		[ "$n" -gt 0 ] 2>/dev/null || { echo "rewind $i: pages_beside $n, want > 0"; return 1; }
		expect "threads left asleep in rewind $i" "$(jq -r .rewind.threads_asleep <<<"$XOUT")" 3 ||
			return 1
		check_passes "after rewind $i" || return 1
	done
}

# The big region's address in the "ready" line of sleeper_unmaps, as /proc/PID/maps writes it.
unmaps_region() {
	local big
	big=$(sed -n 's/.* big=0x\([0-9a-f]*\).*/\1/p' <<<"$READY")
	[ -n "$big" ] || { echo "no big= in '$READY'" >&2; return 1; }
	echo "$big"
}

# mapped_at PID HEX: whether PID maps the address HEX (its vma may have merged with a neighbour).
mapped_at() {
	local lo hi rest a=$((16#$2))
	while IFS=' -' read -r lo hi rest; do
		((16#$lo <= a && a < 16#$hi)) && return 0
	done <"/proc/$1/maps"
	return 1
}

# The twin: the third worker, woken, unmaps the region and leaves its job behind.
rewind_sleeper_unmaps_leaks_without_rewind() {
	local big
	start_zdtm sleeper_unmaps || return 1
	big=$(unmaps_region) || return 1
	invoke || return 1
	wake_pauser || return 1
	mapped_at "$TPID" "$big" && { echo "the region at $big is still mapped"; return 1; }
	ask check || return 1
	case "$ANSWER" in
	"fail layout (/proc/self/maps): gone '"*) ;;
	*) echo "check after the worker's job: '$ANSWER'"; return 1 ;;
	esac
}

# tests/zdtm/sleepers.c, sleeper_unmaps: rewindd stops itself just before
# the copy (REWINDD_FAULT=rewind-copy, REWINDD_FAULT_ACTION=stop); the third
# worker, left asleep, is woken then and unmaps the region the copy writes
# into. The copy fails, the worker is found awake, and the rewind restores
# again with every thread held (rewind.c, failed_with_sleeper_awake): not a
# failed rewind, verified, the region mapped again with its bytes.
rewind_sleeper_unmaps_mid_copy() {
	local name=unmapsl pid rpid out big
	[ "$(nproc)" -ge 2 ] || { echo "SKIP: one CPU, nothing to copy beside on"; return 77; }
	(unset REWINDD_RESTORER; export REWINDD_FAULT=rewind-copy REWINDD_FAULT_ACTION=stop
	 start_extra_daemon "$name") || { echo "the second rewindd did not start"; return 1; }
	pid=$(cat "$TMP/$name.extra.pid")
	start_zdtm sleeper_unmaps || return 1
	big=$(unmaps_region) || return 1
	XSID=$(rwctl --socket "$TMP/$name.sock" attach --pid "$TPID") || return 1
	out=$(rwctl --socket "$TMP/$name.sock" checkpoint "$XSID" 2>&1) || { echo "checkpoint: $out"; return 1; }
	invoke || return 1
	rwctl --socket "$TMP/$name.sock" rewind "$XSID" --verify --json >"$TMP/$name.out" 2>&1 &
	rpid=$!
	# Its log line comes just before the stop (tail follows the file: no sleep).
	if ! timeout 60 grep -q -m1 "REWINDD_FAULT=rewind-copy: stopping myself" \
		<(tail -n +1 -f --pid="$pid" "$TMP/$name.log"); then
		echo "rewindd did not stop before the copy"
		kill -CONT "$pid"
		return 1
	fi
	wake_pauser || { kill -CONT "$pid"; return 1; }
	if mapped_at "$TPID" "$big"; then
		echo "the woken worker did not unmap the region at $big"
		kill -CONT "$pid"
		return 1
	fi
	resumed_rewind_restored_again "$pid" "$rpid" "$TMP/$name.out" || return 1
	grep -q "the restore failed (.*) with a thread that slept through the invocation awake" \
		"$TMP/$name.log" || { echo "the copy did not fail, or not with the worker found awake"; return 1; }
	mapped_at "$TPID" "$big" || { echo "the region at $big is not mapped again"; return 1; }
	check_passes "after the rewind" || return 1
	rwctl --socket "$TMP/$name.sock" detach "$XSID" >/dev/null
}

# tests/zdtm/sleepers.c, sleeper_late: wake its third worker (the one
# thread that takes SIGUSR1) and wait for its answer on a pipe opened from /proc.
wake_pauser() {
	local ack r c
	ack=$(sed -n 's/.* ack=\([0-9]*\).*/\1/p' <<<"$READY")
	[ -n "$ack" ] || { echo "no ack= in '$READY'"; return 1; }
	exec {r}<"/proc/$TPID/fd/$ack" || return 1
	kill -USR1 "$TPID"
	IFS= read -r -d '' -t 60 -n 1 c <&"$r"
	exec {r}<&-
	[ "$c" = $'\x02' ] || { echo "the third worker did not answer"; return 1; }
}

# resumed_rewind_restored_again DAEMON_PID REWIND_PID OUT: the daemon stopped
# at a fault point goes on; the rewind it was in (rewindctl --json into OUT)
# must have found a thread left asleep awake, restored again and verified.
resumed_rewind_restored_again() {
	local rc out
	kill -CONT "$1"
	wait "$2"
	rc=$?
	out=$(cat "$3")
	[ $rc = 0 ] || { echo "rewind: $out"; return 1; }
	expect "restored again" "$(jq -r .rewind.restored_again <<<"$out")" true || return 1
	expect "verified" "$(jq -r .rewind.verified <<<"$out")" true
}

# The twin: a worker woken and not rewound leaves its job behind.
rewind_sleeper_late_leaks_without_rewind() {
	start_zdtm sleeper_late || return 1
	wake_pauser || return 1
	ask check || return 1
	case "$ANSWER" in
	"fail worker 2 did 1 job(s) since the checkpoint") ;;
	*) echo "check after the worker's job: '$ANSWER'"; return 1 ;;
	esac
}

# A worker left asleep wakes while the rewind restores (rewindd stopped after
# the restore, REWINDD_FAULT_ACTION=stop) and does its job: the rewind proves
# it ran, restores again with every thread held, and verifies. Then THEN
# (a function of the session id and the daemon's socket), if given.
sleeper_woken_mid_rewind() {
	# Files of its own per caller: a log left by another daemon would
	# show the fault point's line before this one reached it.
	local then=$1 base=$TMP/late.${1:-once}
	local sock=$base.sock log=$base.log pid id out rpid rc
	(
		export REWINDD_FAULT=rewind-applied REWINDD_FAULT_ACTION=stop
		"$RWD" --socket "$sock" --pidfile "$base.pid" --log-file "$log"
	) || { echo "the second rewindd did not start"; return 1; }
	pid=$(cat "$base.pid")
	(
		start_zdtm sleeper_late || exit 1
		id=$(REWINDD_SOCKET=$sock rwctl attach --pid "$TPID") || exit 1
		out=$(REWINDD_SOCKET=$sock rwctl checkpoint "$id" 2>&1) || { echo "checkpoint: $out"; exit 1; }
		invoke || exit 1
		REWINDD_SOCKET=$sock rwctl rewind "$id" --verify --json >"$base.out" 2>&1 &
		rpid=$!
		# Its log line comes just before the stop (tail follows the file: no sleep).
		timeout 60 grep -q -m1 "REWINDD_FAULT=rewind-applied: stopping myself" \
			<(tail -n +1 -f --pid="$pid" "$log") || { echo "rewindd did not stop in the rewind"; exit 1; }
		wake_pauser || exit 1
		resumed_rewind_restored_again "$pid" "$rpid" "$base.out" || exit 1
		check_passes "after the rewind" || exit 1
		[ -z "$then" ] || "$then" "$id" "$sock" || exit 1
		REWINDD_SOCKET=$sock rwctl detach "$id" >/dev/null
		stop_target
	)
	rc=$?
	kill -CONT "$pid" 2>/dev/null
	kill -TERM "$pid" && tail --pid="$pid" -f /dev/null
	return $rc
}
rewind_sleeper_woken_mid_rewind() { sleeper_woken_mid_rewind; }

# After the wake every thread is stopped for 16 rewinds (rewind_mode.c,
# sleepers_woke); the 17th leaves the three workers asleep again.
sleepers_held_then_left() {
	local id=$1 sock=$2 i out want
	for i in $(seq 17); do
		invoke || return 1
		out=$(REWINDD_SOCKET=$sock rwctl rewind "$id" --verify --json 2>&1) ||
			{ echo "rewind $i: $out"; return 1; }
		want=0
		[ "$i" = 17 ] && want=3
		expect "threads left asleep in rewind $i after the wake" \
			"$(jq -r .rewind.threads_asleep <<<"$out")" "$want" || return 1
		check_passes "after rewind $i" || return 1
	done
}
rewind_sleepers_left_again_after_a_wake() { sleeper_woken_mid_rewind sleepers_held_then_left; }

rewind_hot_pages() {
	local id i out hot
	export ZDTM_CTL=$TMP/hot.ctl
	echo w >"$ZDTM_CTL"
	start_zdtm hot_pages || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	for step in w w w h n d w w; do
		echo "$step" >"$ZDTM_CTL"
		invoke || return 1
		[ "$DONE" = "done $step" ] || { echo "target said '$DONE' for '$step'"; return 1; }
		out=$(rwctl rewind "$id" --verify --json) || { echo "rewind after '$step': $out"; return 1; }
		hot+=" $(jq -r .rewind.pages_hot <<<"$out")"
		check_passes "after '$step'" || return 1
	done
	# w w: hot from the second rewind on; 16 region pages (and the stack's) at least.
	read -r -a hot <<<"$hot"
	expect "hot pages after the first rewind" "${hot[0]}" 0 || return 1
	((hot[2] >= 16)) || { echo "hot pages per rewind: ${hot[*]}, want >= 16 from the third"; return 1; }
	# Left alone, the region cools: probed slices come back unwritten and the
	# set is given up; then an invocation that writes none of it copies none.
	echo n >"$ZDTM_CTL"
	for ((i = 1; i <= 10; i++)); do
		invoke || return 1
		out=$(rwctl rewind "$id" --verify --json) || { echo "rewind $i of the quiet ones: $out"; return 1; }
	done
	i=$(jq -r .rewind.pages_copied <<<"$out")
	((i < 16)) || { echo "$i pages copied after 10 invocations that wrote no region page"; return 1; }
	invoke || return 1
	out=$(rwctl rewind "$id" --verify --json) || { echo "rewind after the quiet ones: $out"; return 1; }
	check_passes "after the quiet ones" || return 1
	unset ZDTM_CTL
	rwctl detach "$id" >/dev/null
}

# The re-arm protects many scattered ranges with one walk over their span,
# hot pages included: those are watched as probes, not forgotten, so the
# region written again right after is hot at once (it used to take two
# more invocations in a row, each page a fault in both).
rewind_hot_pages_after_walk() {
	local id out hot=()
	export ZDTM_CTL=$TMP/hotwalk.ctl
	echo w >"$ZDTM_CTL"
	start_zdtm hot_pages || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	for step in w w s w; do
		echo "$step" >"$ZDTM_CTL"
		invoke || return 1
		out=$(rwctl rewind "$id" --verify --json) || { echo "rewind after '$step': $out"; return 1; }
		hot+=("$(jq -r .rewind.pages_hot <<<"$out")")
		check_passes "after '$step'" || return 1
	done
	((hot[1] >= 16)) || { echo "hot pages per rewind: ${hot[*]}, want >= 16 after the second"; return 1; }
	# The walk (300 scattered pages) protected the hot region too: none left unprotected.
	expect "hot pages after the scattered writes" "${hot[2]}" 0 || return 1
	((hot[3] >= 16)) || { echo "hot pages per rewind: ${hot[*]}, want >= 16 right after the walk"; return 1; }
	unset ZDTM_CTL
	rwctl detach "$id" >/dev/null
}

# Hot pages cost the function no fault once steady: the hot set learns which
# pages are still written by comparing a slice of them with the image before
# the copy, not by write-protecting them again (a fault in the next
# invocation: ~30 us each on a paravirtualised guest). The invocation writes
# its 16 region pages with new bytes every time; after two cycles through the
# hot set, 8 invocations take no minor fault at all (the target's own count,
# /proc/PID/stat, read between the rewinds).
rewind_hot_pages_unfaulted() {
	local id i out before after faults=0
	export ZDTM_CTL=$TMP/hotnf.ctl
	echo w >"$ZDTM_CTL"
	start_zdtm hot_pages || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	for ((i = 1; i <= 72; i++)); do
		before=$(awk '{ print $10 }' "/proc/$TPID/stat")
		invoke || return 1
		after=$(awk '{ print $10 }' "/proc/$TPID/stat")
		((i > 64)) && faults=$((faults + after - before))
		out=$(rwctl rewind "$id" --verify --json) || { echo "rewind $i: $out"; return 1; }
	done
	check_passes "after 72 rewinds" || return 1
	((faults == 0)) || { echo "$faults minor faults in the target over invocations 65-72, want 0"; return 1; }
	out=$(jq -r .rewind.pages_hot <<<"$out")
	((out >= 16)) || { echo "$out pages hot after 72 rewinds, want >= 16"; return 1; }
	unset ZDTM_CTL
	rwctl detach "$id" >/dev/null
}

# outside_write HOW PID ADDR: another, untracked process writes 'OUTSIDE' into PID's memory.
# PID "elsewhere": into a child of the writer's own (a process no session tracks).
outside_write() {
	/usr/bin/python3 - "$@" <<'PY'
import ctypes, os, sys
how, pid = sys.argv[1], sys.argv[2]
data = b"OUTSIDE"
buf = ctypes.create_string_buffer(data)
child = None
if pid == "elsewhere":
    # The child has buf at the same address; it waits on the pipe until written.
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    pid, addr = child, ctypes.addressof(buf)
else:
    pid, addr = int(pid), int(sys.argv[3], 16)
if how == "procmem":
    with open(f"/proc/{pid}/mem", "r+b", buffering=0) as f:
        f.seek(addr)
        assert f.write(data) == len(data)
else:
    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
    local, remote = iovec(ctypes.addressof(buf), len(data)), iovec(addr, len(data))
    libc = ctypes.CDLL(None, use_errno=True)
    n = libc.process_vm_writev(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    assert n == len(data), ctypes.get_errno()
if child:
    os.close(w)
    assert os.waitpid(child, 0)[1] == 0
PY
}

# rewind_scans WANT WHAT: the last rewind scanned WANT processes.
rewind_scans() {
	local scans
	scans=$(jq -r .rewind.scans <<<"$REWIND_JSON")
	[ "$scans" = "$1" ] || { echo "$2: the rewind scanned $scans processes, want $1"; return 1; }
}

# Writes from outside the session (process_vm_writev, /proc/PID/mem) raise no
# fault: the rewind must scan then (`scans`: processes scanned). Each write is
# seen by the check without a rewind first.
rewind_gup_outside() {
	local id how addr
	start_zdtm gup_outside || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	for how in procmem vmwritev; do
		invoke || return 1
		read -r _ addr _ <<<"$DONE"
		outside_write "$how" "$TPID" "$(printf %x $((16#$addr + 4096 + 5)))" || return 1
		ask check || return 1
		[[ "$ANSWER" == fail* ]] || { echo "$how: the check passed without a rewind"; return 1; }
		rewind_verified "$id" || { echo "($how)"; return 1; }
		rewind_scans 1 "after the $how write" || return 1
		check_passes "after the $how write" || return 1
	done
	rwctl detach "$id" >/dev/null
}

# The tracker resolves the target of a write into another process: one into
# an unrelated process (as other rewindds' restores are) during an invocation
# does not make this session's rewind scan; the same write into the target does.
rewind_gup_elsewhere() {
	local id how addr
	start_zdtm gup_outside || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	for how in vmwritev procmem; do
		invoke || return 1
		outside_write "$how" elsewhere || return 1
		rewind_verified "$id" || return 1
		rewind_scans 0 "after a $how write into an unrelated process" || return 1
		check_passes "after the $how write elsewhere" || return 1
		invoke || return 1
		read -r _ addr _ <<<"$DONE"
		outside_write "$how" "$TPID" "$(printf %x $((16#$addr + 5)))" || return 1
		rewind_verified "$id" || return 1
		rewind_scans 1 "after a $how write into the target" || return 1
		check_passes "after the $how write into the target" || return 1
	done
	rwctl detach "$id" >/dev/null
}

# ---- fail closed -------------------------------------------------------------------------

# expect_rewind_fails ID REGEX: exit 1, the message matches, session failed.
expect_rewind_fails() {
	local out rc
	out=$(rwctl rewind "$1" --verify 2>&1)
	rc=$?
	[ $rc = 1 ] || { echo "rewind exited $rc, want 1: $out"; return 1; }
	grep -Eqi "$2" <<<"$out" || { echo "rewind said '$out', want /$2/"; return 1; }
	REWIND_ERR=$out
}

# An io_uring worker thread (iou-wrk) runs only in the kernel (older kernels
# give it no ptrace stop): the rewind fails closed saying so. The log shows
# the invocation's io_uring calls, so the freeze checks every thread first
# (test_freeze io_worker_found_after_unchecked_freeze: the check after it).
fail_iouring_worker() {
	local id
	start_zdtm unseen_uring_worker || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	invoke || return 1
	ls /proc/"$TPID"/task/*/comm >/dev/null && grep -q '^iou-wrk' /proc/"$TPID"/task/*/comm ||
		{ echo "no io_uring worker thread after the invocation"; return 1; }
	expect_rewind_fails "$id" "io_uring worker" || return 1
	expect "session state" "$(session_field "$id" state)" failed || return 1
	expect_killed "$TPID" "the target with an io_uring worker" || return 1
	rwctl detach "$id" >/dev/null
}

# A thread of the checkpoint exits during the invocation of a target that may
# not choose tids (no CAP_CHECKPOINT_RESTORE): it cannot be recreated with its tid.
thread_exited_case() {
	local on_failure=$1 id tid out state
	start_zdtm thread_exit_nocap || return 1
	id=$(rwctl attach --pid "$TPID" ${on_failure:+--on-failure "$on_failure"}) || return 1
	checkpoint "$id" || return 1
	invoke || return 1
	tid=${DONE#done }
	expect_rewind_fails "$id" "thread $tid .*cannot be recreated.*CAP_CHECKPOINT_RESTORE" || return 1
	expect "session state" "$(session_field "$id" state)" failed || return 1
	[ -n "$(session_field "$id" reason)" ] || { echo "no reason in status"; return 1; }
	out=$(rwctl rewind "$id" --verify 2>&1) && { echo "a second rewind of a failed session succeeded: $out"; return 1; }
	state=$(proc_state "$TPID")
	if [ "$on_failure" = stop ]; then
		if [ "$state" != T ]; then
			echo "target State '$state' after the failed rewind, want T (stopped)"
			kill -9 "$TPID"
			return 1
		fi
		expect "tracer of the stopped target" "$(tracer_of "$TPID")" 0 || return 1
		kill -9 "$TPID"
		await_reapable "$TPID" || return 1
		wait "$TPID"
		rwctl detach "$id" >/dev/null
		return 0
	fi
	expect_killed "$TPID" "the target, after the failed rewind with --on-failure kill" || return 1
	rwctl detach "$id" >/dev/null
}
fail_thread_exited_kill() { thread_exited_case ""; }
fail_thread_exited_stop() { thread_exited_case stop; }

# The target exits during the invocation.
# A child that was in the checkpoint (pid mode) exits: the rewind fails closed, naming it.
fail_tree_child_exited() {
	local id child
	start_zdtm helper_child || return 1
	child=$(helper_child_pid)
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	invoke || return 1
	kill -9 "$child"
	# Gone before the rewind looks (a zombie its parent does not reap): bounded poll of /proc.
	local end=$((SECONDS + 10))
	while [ "$(proc_state "$child")" != Z ] && [ $SECONDS -lt $end ]; do :; done
	expect_rewind_fails "$id" "process $child .*of the checkpoint has exited" || return 1
	expect "session state" "$(session_field "$id" state)" failed || return 1
	expect_killed "$TPID" "the parent" || return 1
	rwctl detach "$id" >/dev/null
}

# A failed rewind rolls the watched tree back once no process runs: what the
# invocation wrote there stays with nobody (the twin: it is there before).
fail_closed_tree_case() {
	local id child dir=$TMP/failtree policy=$1
	rm -rf "$dir" && mkdir -p "$dir" && echo checkpoint >"$dir/f" || return 1
	start_zdtm helper_child || return 1
	child=$(helper_child_pid)
	id=$(rwctl attach --pid "$TPID" --watch "$dir" ${policy:+--on-failure $policy}) || return 1
	checkpoint "$id" || return 1
	invoke || return 1
	echo invocation >"$dir/f" && echo left >"$dir/new" || return 1
	expect "the tree after the invocation" "$(cat "$dir/f") $(ls "$dir" | tr '\n' ' ')" \
		"invocation f new " || return 1
	kill -9 "$child"
	# Gone before the rewind looks (a zombie its parent does not reap): bounded poll of /proc.
	local end=$((SECONDS + 10))
	while [ "$(proc_state "$child")" != Z ] && [ $SECONDS -lt $end ]; do :; done
	expect_rewind_fails "$id" "watched trees were rolled back to the checkpoint and verified" ||
		return 1
	expect "the tree after the failed rewind" "$(cat "$dir/f") $(ls "$dir" | tr '\n' ' ')" \
		"checkpoint f " || return 1
	if [ "$policy" = stop ]; then
		expect "the target's state" "$(proc_state "$TPID")" T || return 1
		kill -9 "$TPID"
		await_reapable "$TPID" && wait "$TPID"
		TPID=
	else
		expect_killed "$TPID" "the target" || return 1
	fi
	rwctl detach "$id" >/dev/null
}
fail_closed_rolls_back_tree_kill() { fail_closed_tree_case ""; }
fail_closed_rolls_back_tree_stop() { fail_closed_tree_case stop; }

fail_target_died() {
	local id line state
	start_zdtm die || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	echo go >&"$TIN"
	# EOF instead of "done": it has exited.
	if read -r -t 60 line <&"$TOUT"; then
		echo "target said '$line', want EOF"
		return 1
	fi
	await_reapable "$TPID" || return 1
	wait "$TPID"
	expect "target's exit status" $? 7 || return 1
	expect_rewind_fails "$id" "exit|died|gone|no such process|zombie" || return 1
	state=$(session_field "$id" state)
	case "$state" in
	failed | exited) ;;
	*) echo "session state '$state' after the target died"; return 1 ;;
	esac
	rwctl detach "$id" >/dev/null
}

# A seccomp filter (and no_new_privs) installed by the invocation cannot be
# taken away: the rewind fails closed naming it, and the target is killed.
fail_seccomp_installed() {
	local id
	start_zdtm seccomp_late || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	invoke || return 1
	expect "the invocation" "$DONE" "done filtered" || return 1
	expect_rewind_fails "$id" "seccomp changed since the checkpoint" || return 1
	expect "session state" "$(session_field "$id" state)" failed || return 1
	expect_killed "$TPID" "the target, after the failed rewind" || return 1
	rwctl detach "$id" >/dev/null
}

# A credential or namespace change no rewind can undo from outside (tests/zdtm/creds.c):
# without a rewind the target sees it; with one, the rewind fails closed naming
# it and the target is killed; the same calls leaving the values as they were
# are logged, re-read and pass rewind --verify.
# fails_closed_case HELPER REGEX: the twin without a rewind sees the change;
# with one, the rewind fails closed saying REGEX, the session is failed and
# the target killed.
fails_closed_case() {
	local helper=$1 want=$2
	start_zdtm "$helper" || return 1
	invoke || return 1
	ask check || return 1
	case "$ANSWER" in fail*) ;; *) echo "check after the change without rewind: '$ANSWER'"; return 1 ;; esac
	stop_target
	start_zdtm "$helper" || return 1
	rewind_fails_closed "$want"
}

# rewind_fails_closed REGEX [ATTACH-ARGS...]: attach the target (default
# --pid TPID), checkpoint, one invocation; the rewind fails closed saying
# REGEX, the session is failed, the target killed.
rewind_fails_closed() {
	local want=$1 id
	shift
	[ $# -gt 0 ] || set -- --pid "$TPID"
	id=$(rwctl attach "$@") || return 1
	checkpoint "$id" || return 1
	invoke || return 1
	expect_rewind_fails "$id" "$want" || return 1
	expect "session state" "$(session_field "$id" state)" failed || return 1
	expect_killed "$TPID" "the target, after the failed rewind" || return 1
	TPID=
	rwctl detach "$id" >/dev/null
}

# And the same calls leaving the values as they were pass rewind --verify.
creds_case() {
	local helper=$1 id
	fails_closed_case "$@" || return 1
	export ZDTM_CREDS_SAME=1
	start_zdtm "$helper"
	local rc=$?
	unset ZDTM_CREDS_SAME
	[ $rc = 0 ] || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	invoke || return 1
	rewind_verified "$id" || return 1
	check_passes "after the same values were set and a rewind" || return 1
	rwctl detach "$id" >/dev/null
}
fail_creds_euid() { creds_case creds_euid "pid [0-9]+: thread [0-9]+: credentials changed since the checkpoint \(euid 0 → 65534\): cannot be restored from outside"; }
fail_creds_capdrop() { creds_case creds_capdrop "thread [0-9]+: credentials changed since the checkpoint \(CapEff 0x[0-9a-f]+ → 0x[0-9a-f]+\): cannot be restored"; }
fail_creds_thread_uid() { creds_case creds_thread_uid "thread [0-9]+: credentials changed since the checkpoint \(euid 0 → 65534\): cannot be restored"; }
fail_seccomp_thread() { creds_case seccomp_thread "pid [0-9]+: thread [0-9]+: seccomp changed since the checkpoint \(mode 0 → 2, 0 → 1 filter\(s\)\): cannot be restored"; }
# Moved to another cgroup during the invocation (tests/zdtm/cgroup_move.c):
# without a rewind it stays there; in pid mode the logged move fails the
# rewind closed, naming it; in cgroup mode the process left the session's
# cgroup (its calls went unlogged) and the rewind fails closed too.
cgroup_move_case() {
	local mode=$1 want=$2 dest
	make_cgroup from || return $?
	dest=$(cgroup2_root)/$CG_NAME-to
	mkdir -p "$dest" || return 1
	export ZDTM_CGROUP_DEST=$dest
	start_zdtm cgroup_move || return 1
	echo "$TPID" >"$CG/cgroup.procs" || return 1
	invoke || return 1
	ask check || return 1
	case "$ANSWER" in fail*) ;; *) echo "check after the move without rewind: '$ANSWER'"; return 1 ;; esac
	stop_target
	start_zdtm cgroup_move || return 1
	unset ZDTM_CGROUP_DEST
	echo "$TPID" >"$CG/cgroup.procs" || return 1
	if [ "$mode" = pid ]; then
		rewind_fails_closed "$want" || return 1
	else
		rewind_fails_closed "$want" --cgroup "$CG" || return 1
	fi
	remove_cgroup "$CG"
	remove_cgroup "$dest"
}
fail_cgroup_move_pid() { cgroup_move_case pid "pid [0-9]+: moved to another cgroup since the checkpoint \(0::/[^,]*-to, was 0::/[^)]*-from\): rewindd does not move it back"; }
fail_cgroup_leave() { cgroup_move_case cgroup "process [0-9]+ of the checkpoint left cgroup /[^ ]*-from since the checkpoint"; }
fail_pgrp_new() { creds_case pgrp_new "pid [0-9]+: process group or session changed since the checkpoint \(pgid [0-9]+ → [0-9]+, sid [0-9]+ → [0-9]+\): cannot be restored from outside"; }
# A namespace unshared during the invocation (tests/zdtm/creds.c): without a
# rewind the target stays in the new one; with one, the thread is put back
# into the checkpoint's (held since the checkpoint), twice, verified.
ns_case() {
	local helper=$1 id cycle
	start_zdtm "$helper" || return 1
	invoke || return 1
	ask check || return 1
	case "$ANSWER" in fail*) ;; *) echo "check after unshare without rewind: '$ANSWER'"; return 1 ;; esac
	stop_target
	start_zdtm "$helper" || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	for cycle in 1 2; do
		invoke || return 1
		rewind_verified "$id" || { echo "(cycle $cycle)"; return 1; }
		check_passes "after rewind $cycle" || return 1
	done
	expect "plan steps" "$(jq -r '[.rewind.plan[]?.steps[]? | select(test("back into its (uts|net) namespace"))] | length' <<<"$REWIND_JSON")" 1 || return 1
	rwctl detach "$id" >/dev/null
}
fail_mount_tmpfs() { fails_closed_case mount_tmpfs "pid [0-9]+: mount since the checkpoint changed its mount table or root directory: cannot be restored from outside"; }
rewind_ns_uts() { ns_case ns_uts; }
rewind_ns_net() { ns_case ns_net; }
# The socket pair scenario in a network namespace of its own, as in a
# container: the peers are looked up there (sock_diag lists a namespace's own
# sockets), so the queues are restored as in ours. Without the rewind the
# check fails (the twin: zdtm_fdobj_socketpair_fails_without_rewind).
rewind_socketpair_own_netns() {
	local id
	TARGET=unshare start_zdtm -n -- "$TARGET" fdobj_socketpair || return 1
	[ "$(readlink "/proc/$TPID/ns/net")" != "$(readlink /proc/self/ns/net)" ] ||
		{ echo "the target shares our network namespace"; return 1; }
	id=$(rwctl attach --pid "$TPID") && checkpoint "$id" || return 1
	invoke || return 1
	rewind_verified "$id" || return 1
	check_passes "after the rewind" || return 1
	rwctl detach "$id" >/dev/null
}
fail_ns_user() { fails_closed_case ns_user "thread [0-9]+: unshared or setns'd its user namespace since the checkpoint \(inode [0-9]+ → [0-9]+\): cannot be restored from outside"; }

# The invocation's semop/semctl made the rewind read the IPC namespace and set the values back.
after_ipc_sem() {
	expect "IPC namespaces read" "$(jq -r '.rewind.ipc.namespaces_read' <<<"$REWIND_JSON")" 1 || return 1
	expect "IPC steps" "$(jq -r '.rewind.ipc.ops' <<<"$REWIND_JSON")" 1
}

# An invocation without IPC calls: the log vouches, the rewind reads no IPC namespace.
rewind_ipc_untouched() {
	local id
	start_zdtm counter || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	invoke || return 1
	rewind_verified "$id" || return 1
	expect "IPC read at rewind" "$(jq -c '.rewind.ipc' <<<"$REWIND_JSON")" null || return 1
	rwctl detach "$id" >/dev/null
}

# Report mode names the IPC calls of an invocation in process_state.
report_ipc_calls() {
	local id r
	start_zdtm ipc_sem || return 1
	id=$(rwctl attach --pid "$TPID" --report) || return 1
	invoke || return 1
	rwctl mark "$id" >/dev/null || return 1
	r=$(report_of "$id" 1)
	# glibc's semop is the semtimedop syscall.
	expect "IPC calls in process_state" "$(jq -c '[.process_state[].op | select(test("^sem"))]' <<<"$r")" '["semtimedop","semctl"]' || return 1
	rwctl detach "$id" >/dev/null
}

# A SysV message queue of the checkpoint removed by the invocation: its id
# cannot be recreated, so the rewind fails closed naming the class.
fail_ipc_removed() {
	start_zdtm ipc_msg_removed || return 1
	rewind_fails_closed "IPC namespace [0-9]+: SysV message queue id [0-9]+ \\(key 0\\): removed since the checkpoint \\(a new object cannot take its id\\): cannot be restored"
}

fail_keys_session() { fails_closed_case keys_session "pid [0-9]+: key [0-9]+ linked into the session keyring since the checkpoint: that keyring is shared with other processes, cannot be restored"; }
fail_prctl_tsc() { fails_closed_case prctl_tsc "pid [0-9]+: prctl option 26 used since the checkpoint: no rewind step undoes it"; }
fail_mseal() { fails_closed_case mseal "pid [0-9]+: mseal at 0x[0-9a-f]+ since the checkpoint: a sealed mapping can be neither unsealed nor unmapped"; }

# Report mode lists the calls of the PROC and KEY classes per invocation.
report_pstate() {
	local id r
	start_zdtm keys || return 1
	id=$(rwctl attach --pid "$TPID" --report) || return 1
	invoke && rwctl mark "$id" >/dev/null || return 1
	r=$(report_of "$id" 1)
	expect "add_key records" "$(jq '[.process_state[] | select(.op == "add_key")] | length' <<<"$r")" 2 || return 1
	rwctl detach "$id" >/dev/null
	stop_target
	start_zdtm personality || return 1
	id=$(rwctl attach --pid "$TPID" --report) || return 1
	invoke && rwctl mark "$id" >/dev/null || return 1
	r=$(report_of "$id" 1)
	expect "personality records" "$(jq '[.process_state[] | select(.op == "personality")] | length' <<<"$r")" 1 || return 1
	rwctl detach "$id" >/dev/null
}

# rewind before any checkpoint: an error, the target untouched, the session usable.
fail_rewind_before_checkpoint() {
	local id
	start_zdtm counter || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	expect_rewind_fails "$id" "checkpoint" || return 1
	check_passes "after the refused rewind" || return 1
	checkpoint "$id" || return 1
	invoke || return 1
	rewind_verified "$id" || return 1
	check_passes "after a checkpoint and rewind" || return 1
	rwctl detach "$id" >/dev/null
}

# rewindd suspends a target's seccomp filter only while it holds the target:
# after two verified rewinds and the detach, the target's own userfaultfd()
# meets its filter again, which kills it (SIGSYS).
rewind_seccomp_filter_after_release() {
	local id cycle line
	export ZDTM_SECCOMP_TRIGGER=$TMP/seccomp-trigger
	start_zdtm seccomp_kill
	local rc=$?
	unset ZDTM_SECCOMP_TRIGGER
	[ $rc = 0 ] || return 1
	id=$(rwctl attach --pid "$TPID") || return 1
	checkpoint "$id" || return 1
	for cycle in 1 2; do
		invoke || return 1
		rewind_verified "$id" || { echo "(cycle $cycle)"; return 1; }
		check_passes "after rewind $cycle" || return 1
	done
	rwctl detach "$id" >/dev/null || return 1
	expect "tracer after the detach" "$(tracer_of "$TPID")" 0 || return 1
	: >"$TMP/seccomp-trigger"
	echo go >&"$TIN"
	if read -r -t 60 line <&"$TOUT"; then
		echo "target said '$line': its own userfaultfd() did not meet its filter"
		return 1
	fi
	await_reapable "$TPID" || return 1
	wait "$TPID"
	expect "target's exit status" $? 159	# 128 + SIGSYS
}

# A failed test may leave its target stopped or stuck: kill it, so that
# run_test's stop_target can reap it; one rewindd still traces cannot be
# reaped (stop_target would wait for ever): say so and leave it.
guarded() {
	"$@"
	local rc=$? id
	[ $rc = 0 ] || for id in $(rwctl status --json 2>/dev/null | jq -r '.sessions[].session'); do
		rwctl detach "$id" >/dev/null 2>&1
	done
	if [ $rc != 0 ] && [ -n "${TPID:-}" ] && [ -e "/proc/$TPID" ]; then
		kill -9 "$TPID" 2>/dev/null
		if ! await_reapable "$TPID" >/dev/null; then
			echo "target $TPID left as a zombie traced by rewindd (pid $(tracer_of "$TPID"))"
			TPID=
		fi
	fi
	return $rc
}

# The scenarios' own checks need no daemon.
for t in "${SELF_TESTS[@]}"; do
	run_test "$t" guarded "$t"
done
if ! start_daemon; then
	for t in "${REWIND_TESTS[@]}" "${OTHER_TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done
	exit 0
fi
for t in "${REWIND_TESTS[@]}" "${OTHER_TESTS[@]}"; do
	run_test "$t" guarded "$t"
done
