#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# rewindd dies: half way through a checkpoint or a rewind (REWINDD_FAULT
# makes it kill itself at a named point, as a crash would), the process it
# held must never run on (the kernel kills it: PTRACE_O_EXITKILL); a rewindd
# started after it finds what it left on disk, applies each session's
# --on-failure to the processes whose checkpoint died, rolls their watched
# trees back to the checkpoint (the invocation's files, or a rollback cut
# short, must not stay), removes the dead one's state, and serves the next
# checkpoint of the same tree.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

POINTS=(checkpoint-stopped checkpoint-captured rewind-stopped rewind-copy rewind-copying rewind-applied
	rewind-files rewind-file-restored rewind-answered)
TESTS=(crash_writes_show_without_rewind)
for p in "${POINTS[@]}"; do TESTS+=("crash_at_${p//-/_}"); done
TESTS+=(crash_idle_target_runs_on crash_restart_kills_orphaned_target
	crash_restart_stops_orphaned_target crash_restart_tree_in_target_namespace
	crash_tree_namespace_gone crash_tree_bind_mount_namespace_gone crash_restart_tree_replaced_kept
	crash_restart_refuses_old_instance
	crash_restart_spares_live_daemon)
only_tests CRASH_ONLY
require_root "${TESTS[@]}"

STATE=$TMP/state
W=$TMP/tree
# Every other page of 3000: three process_vm_writev batches of ranges.
STRIPES=1500

# A rewindd of its own for one test: crashd NAME [ENV=VALUE...]; its pid in CPID.
crashd() {
	local name=$1
	shift
	env "$@" "$RWD" --socket "$TMP/$name.sock" --pidfile "$TMP/$name.extra.pid" \
		--log-file "$TMP/$name.log" --state-dir "$STATE" || return 1
	CPID=$(cat "$TMP/$name.extra.pid")
}

ctl_on() {
	local name=$1
	shift
	rwctl --socket "$TMP/$name.sock" "$@"
}

# The target, killed by the kernel (128 + SIGKILL): no answer, not even to
# "exit" (a target that ran on would exit 0 on it; one stuck is killed here).
expect_target_killed() {
	local rc line
	echo exit >&"$TIN" 2>/dev/null
	while read -t 60 -r line <&"$TOUT"; do
		echo "the target still talks after rewindd died ($1): $line"
	done
	[ $? -gt 128 ] && { echo "the target still runs 60 s after rewindd died ($1)"; kill -KILL "$TPID"; }
	wait "$TPID"
	rc=$?
	exec {TIN}>&- {TOUT}<&-
	TPID=
	expect "the target's end ($1)" "$rc" 137
}

# The twin of every crash test: the invocation's writes show in the sum.
crash_writes_show_without_rewind() {
	start_target stripes $STRIPES || return 1
	local sum0=${READY##* }
	invoke || return 1
	ask check || return 1
	[ "$ANSWER" != "sum $sum0" ] || { echo "the invocation left no trace in the sum"; return 1; }
}

# The watched tree as checkpointed: two files; an invocation rewrites both and
# adds one. Run in the mount namespace IN_NS enters (none: ours).
IN_NS=()
in_tree() { "${IN_NS[@]}" sh -c "$1" sh "$W"; }
tree_checkpoint() { mkdir -p "$W" && in_tree 'echo checkpoint >"$1/f" && echo checkpoint >"$1/g"'; }
tree_invocation() { in_tree 'echo invocation >"$1/f" && echo invocation >"$1/g" && echo new >"$1/new"'; }
tree_state() { in_tree 'echo "f=$(cat "$1/f") g=$(cat "$1/g")$([ -e "$1/new" ] && echo " new")"'; }
TREE_CHECKPOINT="f=checkpoint g=checkpoint"

# The target in a mount namespace of its own, the tree a tmpfs mounted there
# alone: the tree goes with the namespace's last process.
start_target_own_tree() {
	mkdir -p "$W" || return 1
	TARGET=unshare start_target -m --propagation private -- sh -c 'mount -t tmpfs tree "$1" &&
		echo checkpoint >"$1/f" && echo checkpoint >"$1/g" && shift && exec "$@"' \
		sh "$W" "$TARGET" stripes $STRIPES || return 1
	IN_NS=(nsenter -t "$TPID" -m --)
}

# crash_at POINT: the daemon dies there; the target is killed, not run
# half-restored; a daemon started after it finishes the tree's rollback.
crash_at() {
	local point=$1 sid out recovered
	tree_checkpoint || return 1
	crashd crash REWINDD_FAULT="$point" REWINDD_RESTORER=never || { echo "rewindd did not start"; return 1; }
	start_target stripes $STRIPES || return 1
	sid=$(ctl_on crash attach --pid "$TPID" --watch "$W") || return 1
	case $point in
	checkpoint-*)
		expect_error "closed the connection without an answer" ctl_on crash checkpoint "$sid" ||
			return 1
		;;
	*)
		ctl_on crash checkpoint "$sid" >/dev/null || return 1
		invoke || return 1
		tree_invocation || return 1
		if [ "$point" = rewind-answered ]; then
			# Answered, then killed while it still held the process: it never runs on.
			out=$(ctl_on crash rewind "$sid" --verify 2>&1) || { echo "rewind: $out"; return 1; }
		else
			expect_error "closed the connection without an answer" \
				ctl_on crash rewind "$sid" --verify || return 1
		fi
		;;
	esac
	tail --pid="$CPID" -f /dev/null
	grep -q "REWINDD_FAULT=$point" "$TMP/crash.log" || { echo "rewindd did not die at $point"; return 1; }
	expect_target_killed "rewindd died at $point" || return 1
	case $point in
	checkpoint-*) return 0 ;;
	rewind-answered) ;;
	*)	# The twin: what the crash left in the tree, before a rewindd recovers it.
		[ "$(tree_state)" != "$TREE_CHECKPOINT" ] ||
			{ echo "the crash at $point left the tree at its checkpoint already"; return 1; }
		# Removals come first, then content: one file refilled, the other not yet.
		[ "$point" != rewind-file-restored ] || [ "$(tree_state)" = "f=checkpoint g=invocation" ] ||
			[ "$(tree_state)" = "f=invocation g=checkpoint" ] ||
			{ echo "not half restored at $point: $(tree_state)"; return 1; } ;;
	esac
	crashd second || { echo "the second rewindd did not start"; return 1; }
	recovered=$(ctl_on second status --json | jq -r '.recovered[]?')
	grep -q "session $sid: tree $W restored to its checkpoint and verified" <<<"$recovered" ||
		{ echo "status says: $recovered"; return 1; }
	expect "the tree after recovery" "$(tree_state)" "$TREE_CHECKPOINT"
}
for p in "${POINTS[@]}"; do eval "crash_at_${p//-/_}() { crash_at $p; }"; done

# Killed while idle (nothing held): the process runs on; its writes stay, since nothing rewinds it.
crash_idle_target_runs_on() {
	local sid sum0
	crashd crash || { echo "rewindd did not start"; return 1; }
	start_target stripes $STRIPES || return 1
	sum0=${READY##* }
	sid=$(ctl_on crash attach --pid "$TPID") && ctl_on crash checkpoint "$sid" >/dev/null || return 1
	kill -KILL "$CPID" && tail --pid="$CPID" -f /dev/null
	invoke || return 1
	ask check || return 1
	[ "$ANSWER" != "sum $sum0" ] || { echo "the invocation left no trace"; return 1; }
}

# crash_then_restart [ATTACH ARGS...]: a checkpointed session with a watched tree, its
# daemon killed after an invocation wrote the tree, a second daemon started on
# the same state directory.
crash_then_restart() {
	tree_checkpoint || return 1
	crashd first || { echo "rewindd did not start"; return 1; }
	FIRST=$CPID
	start_target stripes $STRIPES || return 1
	SID=$(ctl_on first attach --pid "$TPID" --watch "$W" "$@") &&
		ctl_on first checkpoint "$SID" >/dev/null || return 1
	DEAD=$(ls "$STATE" | grep "^rewindd-.*-$FIRST-") || { echo "no instance dir of $FIRST"; return 1; }
	[ -d "$STATE/$DEAD/session-$SID" ] || { echo "no store of session $SID in $STATE/$DEAD"; return 1; }
	# An invocation ran and wrote the tree; the daemon dies before its rewind.
	invoke && tree_invocation || return 1
	kill -KILL "$FIRST" && tail --pid="$FIRST" -f /dev/null
	crashd second || { echo "the second rewindd did not start"; return 1; }
	[ ! -e "$STATE/$DEAD" ] || { echo "$STATE/$DEAD left behind"; return 1; }
	RECOVERED=$(ctl_on second status --json | jq -r '.recovered[]?')
}

# --on-failure kill (the default): the orphaned process is killed, and the
# same tree is checkpointed, rewound and verified by the new daemon.
crash_restart_kills_orphaned_target() {
	local sid
	crash_then_restart || return 1
	grep -q "session $SID, pid $TPID its checkpoint died with that rewindd: killed" <<<"$RECOVERED" ||
		{ echo "status says: $RECOVERED"; return 1; }
	expect "the tree after recovery" "$(tree_state)" "$TREE_CHECKPOINT" || return 1
	expect_target_killed "recovered" || return 1
	start_target stripes $STRIPES || return 1
	sid=$(ctl_on second attach --pid "$TPID" --watch "$W") || return 1
	ctl_on second checkpoint "$sid" >/dev/null || return 1
	invoke && tree_invocation || return 1
	ctl_on second rewind "$sid" --verify >/dev/null || return 1
	expect "the tree" "$(tree_state)" "$TREE_CHECKPOINT"
}

# --on-failure stop: left stopped, for someone to look at; the tree is rolled
# back only once the stop took effect (recovery waits for it).
crash_restart_stops_orphaned_target() {
	local state
	crash_then_restart --on-failure stop || return 1
	grep -q "session $SID, pid $TPID its checkpoint died with that rewindd: stopped" <<<"$RECOVERED" ||
		{ echo "status says: $RECOVERED"; return 1; }
	read -r state </proc/"$TPID"/stat
	state=${state##*) }
	state=${state%% *}
	kill -KILL "$TPID"
	expect "the orphaned target's state" "$state" T || return 1
	expect "the tree after recovery" "$(tree_state)" "$TREE_CHECKPOINT"
}

# The tree is a mount of the target's own namespace: recovery opens it before
# it stops the target, and rolls it back there (the host's directory is not it).
crash_restart_tree_in_target_namespace() {
	local sid recovered
	crashd first || { echo "rewindd did not start"; return 1; }
	start_target_own_tree || return 1
	sid=$(ctl_on first attach --pid "$TPID" --watch "$W" --on-failure stop) &&
		ctl_on first checkpoint "$sid" >/dev/null || return 1
	invoke && tree_invocation || return 1
	expect "the tree before recovery" "$(tree_state)" "f=invocation g=invocation new" || return 1
	kill -KILL "$CPID" && tail --pid="$CPID" -f /dev/null
	crashd second || { echo "the second rewindd did not start"; return 1; }
	recovered=$(ctl_on second status --json | jq -r '.recovered[]?')
	grep -q "session $sid: tree $W restored to its checkpoint and verified" <<<"$recovered" ||
		{ echo "status says: $recovered"; return 1; }
	expect "the tree after recovery, in the target's namespace" "$(tree_state)" "$TREE_CHECKPOINT" ||
		return 1
	expect "the host's directory of that name" "$(ls -A "$W")" "" || return 1
	kill -KILL "$TPID"
}

# crash_in_rewind_then_restart: the target (TPID, started) attached to rewindd
# "first" (started with REWINDD_FAULT=rewind-files) watching $W, checkpointed,
# an invocation that writes the tree, a rewind that kills rewindd before the
# tree's rollback (the target dies with it); then AFTER_CRASH, if set, and
# rewindd "second" on the same state dir. SID: the session; RECOVERED: what
# the second says it found.
crash_in_rewind_then_restart() {
	SID=$(ctl_on first attach --pid "$TPID" --watch "$W") &&
		ctl_on first checkpoint "$SID" >/dev/null || return 1
	invoke && tree_invocation || return 1
	expect_error "closed the connection without an answer" ctl_on first rewind "$SID" --verify ||
		return 1
	tail --pid="$CPID" -f /dev/null
	expect_target_killed "rewindd died at rewind-files" || return 1
	[ -z "${AFTER_CRASH:-}" ] || "$AFTER_CRASH" || return 1
	crashd second || { echo "the second rewindd did not start"; return 1; }
	RECOVERED=$(ctl_on second status --json | jq -r '.recovered[]?')
}

# Killed with rewindd (mid-rewind), the target took its namespace and the
# tree, a tmpfs mounted there alone, with it: recovery says so, and clears up.
crash_tree_namespace_gone() {
	local dead
	crashd first REWINDD_FAULT=rewind-files || { echo "rewindd did not start"; return 1; }
	dead=$(ls "$STATE" | grep "^rewindd-.*-$CPID-") || return 1
	start_target_own_tree && crash_in_rewind_then_restart || return 1
	local gone="no process is left in its mount namespace and it was a tmpfs no namespace mounts"
	grep -q "session $SID: tree $W: $gone any more" <<<"$RECOVERED" ||
		{ echo "status says: $RECOVERED"; return 1; }
	[ ! -e "$STATE/$dead" ] || { echo "$STATE/$dead left behind"; return 1; }
}

# The tree is a host directory bind-mounted into the target's own namespace:
# when the target dies with rewindd the namespace goes, the directory stays
# (the twin: the invocation's files are there), and recovery finds it through
# the host's mount of its filesystem.
HOST_TREE=$TMP/hosttree
host_tree_state() {
	echo "$(cat "$HOST_TREE/f") $(cat "$HOST_TREE/g") $(ls "$HOST_TREE" | tr '\n' ' ')"
}
host_tree_left() {
	expect "the host's directory after the crash" "$(host_tree_state)" "invocation invocation f g new "
}
crash_tree_bind_mount_namespace_gone() {
	mkdir -p "$HOST_TREE" "$W" && echo checkpoint >"$HOST_TREE/f" &&
		echo checkpoint >"$HOST_TREE/g" || return 1
	crashd first REWINDD_FAULT=rewind-files || { echo "rewindd did not start"; return 1; }
	TARGET=unshare start_target -m --propagation private -- sh -c 'mount --bind "$1" "$2" &&
		shift 2 && exec "$@"' sh "$HOST_TREE" "$W" "$TARGET" stripes $STRIPES || return 1
	IN_NS=(nsenter -t "$TPID" -m --)
	AFTER_CRASH=host_tree_left crash_in_rewind_then_restart || return 1
	grep -q "session $SID: tree $W restored to its checkpoint and verified" <<<"$RECOVERED" ||
		{ echo "status says: $RECOVERED"; return 1; }
	expect "the host's directory after recovery" "$(host_tree_state)" "checkpoint checkpoint f g "
}

# Two trees, one of them replaced before the restart (another directory: it
# cannot be restored): the dead daemon's directory is kept for the next start,
# which retries that one only; the tree restored the first time is not rolled
# back again under whoever uses it since.
crash_restart_tree_replaced_kept() {
	local w2=$TMP/tree2 sid recovered dead
	tree_checkpoint && mkdir -p "$w2" && echo checkpoint >"$w2/f" || return 1
	crashd first || { echo "rewindd did not start"; return 1; }
	start_target stripes $STRIPES || return 1
	sid=$(ctl_on first attach --pid "$TPID" --watch "$W" --watch "$w2") &&
		ctl_on first checkpoint "$sid" >/dev/null || return 1
	dead=$(ls "$STATE" | grep "^rewindd-.*-$CPID-") || return 1
	invoke && tree_invocation || return 1
	kill -KILL "$CPID" && tail --pid="$CPID" -f /dev/null
	# Moved away (an inode removed would be given to the new directory at once).
	mv "$w2" "$w2.old" && mkdir "$w2" && echo replaced >"$w2/f" || return 1
	crashd second || { echo "the second rewindd did not start"; return 1; }
	recovered=$(ctl_on second status --json | jq -r '.recovered[]?')
	grep -q "session $sid: tree $W restored to its checkpoint and verified" <<<"$recovered" &&
		grep -q "session $sid: tree $w2 cannot be opened" <<<"$recovered" &&
		grep -q "its directory .* is kept" <<<"$recovered" ||
		{ echo "status says: $recovered"; return 1; }
	[ -d "$STATE/$dead" ] || { echo "$STATE/$dead was removed"; return 1; }
	expect "the tree after recovery" "$(tree_state)" "$TREE_CHECKPOINT" || return 1
	expect_target_killed "recovered" || return 1
	# The tree's next user writes it; a third start must leave that alone.
	echo "next user" >"$W/f"
	kill -TERM "$CPID" && tail --pid="$CPID" -f /dev/null
	crashd third || { echo "the third rewindd did not start"; return 1; }
	recovered=$(ctl_on third status --json | jq -r '.recovered[]?')
	grep -q "session $sid: tree $W was restored at an earlier start" <<<"$recovered" ||
		{ echo "status says: $recovered"; return 1; }
	expect "the tree's next user's file" "$(cat "$W/f")" "next user" || return 1
	rm -rf "$w2" "$w2.old"
}

# The new daemon numbers its sessions from 1 again: a request naming the
# dead one's instance is refused, never served by the session that took its number.
crash_restart_refuses_old_instance() {
	local sid answer
	crash_then_restart || return 1
	expect_target_killed "recovered" || return 1
	start_target stripes $STRIPES || return 1
	sid=$(ctl_on second attach --pid "$TPID") && ctl_on second checkpoint "$sid" >/dev/null || return 1
	expect "the new session's number" "$sid" "$SID" || return 1
	answer=$(request_line "$TMP/second.sock" \
		"{\"cmd\":\"rewind\",\"session\":$sid,\"instance\":\"$DEAD\"}") || return 1
	grep -q '"ok": *false.*rewindd was restarted' <<<"$answer" || { echo "answer: $answer"; return 1; }
	invoke || return 1
	ask check || return 1
	[ "$ANSWER" != "sum ${READY##* }" ] || { echo "the refused rewind rewound"; return 1; }
	ctl_on second rewind "$sid" --verify >/dev/null || return 1
	ask check || return 1
	expect "the new session's target after its own rewind" "$ANSWER" "sum ${READY##* }"
}

# Two live daemons share a state directory: a third one started leaves theirs alone.
crash_restart_spares_live_daemon() {
	local sid
	mkdir -p "$W" && echo checkpoint >"$W/f" || return 1
	crashd first || { echo "rewindd did not start"; return 1; }
	start_target stripes $STRIPES || return 1
	sid=$(ctl_on first attach --pid "$TPID" --watch "$W") &&
		ctl_on first checkpoint "$sid" >/dev/null || return 1
	crashd second || { echo "the second rewindd did not start"; return 1; }
	expect "recovered by the second" "$(ctl_on second status --json | jq -r '.recovered // [] | length')" 0 ||
		return 1
	invoke || return 1
	echo invocation >"$W/f"
	ctl_on first rewind "$sid" --verify >/dev/null || return 1
	expect "the watched file" "$(cat "$W/f")" checkpoint
}

for t in "${TESTS[@]}"; do
	run_test "$t" "$t"
	IN_NS=()
	rm -rf "$STATE" "$W" "$HOST_TREE"
done
