#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# --watch in the target's mount namespace: the function (tests/integ/fsfn)
# runs in its own mount namespace (unshare --mount) where a path names
# another directory than on the host. The trees are described from outside
# through /proc/PID/root (the kernel walks that link into the target's
# view), never with rewindd's own code. Each rewind has a twin showing the
# change stays without it.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

FSFN=$PWD/$OUTPUT/tests/integ/fsfn
STATE=$TMP/state
TESTS=(mntns_private_tmp_changes_the_tree mntns_private_tmp mntns_bind_elsewhere_changes_the_tree
       mntns_bind_elsewhere mntns_cgroup_two_namespaces mntns_overlay_tmp_changes_the_tree
       mntns_overlay_tmp mntns_other_view_write_changes_the_tree mntns_other_view_write
       mntns_empty_cgroup_other_namespace mntns_canary_logged mntns_canary_watched)
only_tests MNTNS_ONLY
require_root "${TESTS[@]}"
command -v unshare >/dev/null || { for t in "${TESTS[@]}"; do echo "SKIP $t: unshare (util-linux) is missing"; done; exit 0; }

# start_ns SETUP: fsfn in a new mount namespace, after the shell commands
# SETUP ran there. unshare without --fork execs: the pid is fsfn's.
start_ns() {
	TARGET=unshare start_target --mount --propagation private -- sh -c "$1 && exec $FSFN" \
		2>>"$TMP/targets.err"
}

checkpoint() {
	local out
	out=$(rwctl checkpoint "$ID" --json 2>&1) || { echo "checkpoint failed: $out"; return 1; }
}

rewind_verified() {
	REWIND_JSON=$(rwctl rewind "$ID" --verify --json 2>&1) ||
		{ echo "rewind --verify failed: $REWIND_JSON"; return 1; }
	expect "rewind verified" "$(jq -r .rewind.verified <<<"$REWIND_JSON")" true
}

# The tree was matched by the log's paths, not compared whole.
by_the_log() {
	expect "trees compared whole" "$(jq -r .rewind.files.full_comparisons <<<"$REWIND_JSON")" 0 ||
		{ jq -c .rewind.files.notes <<<"$REWIND_JSON"; return 1; }
	[ "$(jq -r .rewind.files.touched <<<"$REWIND_JSON")" -ge 1 ] ||
		{ echo "no touched entry: $(jq -c .rewind.files <<<"$REWIND_JSON")"; return 1; }
}

# The target's /tmp is its own tmpfs; the host's /tmp has a file of the same
# name as the one the invocation creates there.
private_tmp() {
	local n host before
	n=mntns-$$-$RANDOM
	host=/tmp/$n
	mkdir "$host" && echo "the host's file" >"$host/new.txt" || return 1
	start_ns "mount -t tmpfs rwtmp /tmp && mkdir /tmp/$n && echo seed >/tmp/$n/seed.txt" || return 1
	ID=$(rwctl attach --pid "$TPID" --watch /tmp) || { rm -rf "$host"; return 1; }
	expect "watched tree" "$(rwctl status "$ID" --json | jq -r '.sessions[0].watch[0]')" /tmp || return 1
	before=$(snap "/proc/$TPID/root/tmp")
	checkpoint || return 1
	ask "go create /tmp/$n" && expect "answer" "$ANSWER" done || return 1
	[ -f "/proc/$TPID/root/tmp/$n/new.txt" ] || { echo "the invocation made no file"; return 1; }
	if [ "$1" = rewind ]; then
		rewind_verified || return 1
		expect "target's /tmp after the rewind" "$(snap "/proc/$TPID/root/tmp")" "$before" || return 1
		by_the_log || return 1
	else
		[ "$(snap "/proc/$TPID/root/tmp")" != "$before" ] || { echo "tree unchanged"; return 1; }
	fi
	expect "the host's same-named file" "$(cat "$host/new.txt")" "the host's file" || return 1
	rm -rf "$host"
}
test_mntns_private_tmp_changes_the_tree() { private_tmp; }
test_mntns_private_tmp() { private_tmp rewind; }

# A host directory bind-mounted at another path in the target's namespace,
# watched by the target's name for it; on the host that path is empty.
bind_elsewhere() {
	local h=$TMP/hostdir e=$TMP/elsewhere before
	rm -rf "$h" "$e"
	mkdir -p "$h/sub" "$e" && echo alpha >"$h/a.txt" && echo inner >"$h/sub/inner.txt" || return 1
	start_ns "mount --bind $h $e" || return 1
	ID=$(rwctl attach --pid "$TPID" --watch "$e") || return 1
	before=$(snap "$h")
	checkpoint || return 1
	ask "go create $e" && expect "answer" "$ANSWER" done || return 1
	[ -f "$h/new.txt" ] || { echo "the invocation made no file in the bound directory"; return 1; }
	if [ "$1" = rewind ]; then
		rewind_verified || return 1
		expect "host directory after the rewind" "$(snap "$h")" "$before" || return 1
		by_the_log || return 1
	else
		[ "$(snap "$h")" != "$before" ] || { echo "tree unchanged"; return 1; }
	fi
	expect "the host's $e" "$(ls -A "$e")" ""
}
test_mntns_bind_elsewhere_changes_the_tree() { bind_elsewhere; }
test_mntns_bind_elsewhere() { bind_elsewhere rewind; }

# A cgroup whose processes see two mount namespaces: --watch is ambiguous.
test_mntns_cgroup_two_namespaces() {
	local cg other in out rdy out_msg
	cg=$(cgroup2_root)/$CG_NAME
	[ -n "$(cgroup2_root)" ] || { echo "no cgroup2 mount"; return 77; }
	mkdir -p "$cg" "$TMP/w" || return 1
	mkfifo "$TMP/ns_in" "$TMP/ns_out" || return 1
	# Not this shell's EXIT trap (cleanup) in the helper's subshell.
	(trap - EXIT; exec unshare --mount --propagation private sh -c 'echo ready; exec cat >/dev/null') \
		<"$TMP/ns_in" >"$TMP/ns_out" &
	other=$!
	exec {in}>"$TMP/ns_in" {out}<"$TMP/ns_out"
	read -r rdy <&"$out"
	expect "helper" "$rdy" ready || return 1
	# One process in its own mount namespace, one in the host's.
	echo "$other" >"$cg/cgroup.procs" || return 1
	TARGET=$FSFN start_target 2>>"$TMP/targets.err" || return 1
	echo "$TPID" >"$cg/cgroup.procs" || return 1
	out_msg=$(rwctl attach --cgroup "$cg" --watch "$TMP/w" 2>&1) &&
		{ echo "attached: $out_msg"; return 1; }
	grep -q "ambiguous" <<<"$out_msg" && grep -q "pid $other" <<<"$out_msg" &&
		grep -q "pid $TPID" <<<"$out_msg" || { echo "message: $out_msg"; return 1; }
	expect "sessions left" "$(rwctl status --json | jq '.sessions | length')" 0 || return 1
	# Control: with the stranger gone, one namespace, the same attach works.
	echo "$other" >"$(cgroup2_root)/cgroup.procs" || return 1
	exec {in}>&- {out}<&-
	kill_and_wait "$other"
	ID=$(rwctl attach --cgroup "$cg" --watch "$TMP/w") || { echo "one namespace refused"; return 1; }
	rwctl detach "$ID" >/dev/null
	stop_target
	rmdir "$cg" 2>/dev/null
	return 0
}

# The target's /tmp is an overlay: lower from the host, upper its own. The
# rollback works through the merged view only.
overlay_tmp() {
	local o=$TMP/ovl before notes
	rm -rf "$o"
	mkdir -p "$o/lower/sub" "$o/upper" "$o/work" || return 1
	echo alpha >"$o/lower/a.txt" && echo inner >"$o/lower/sub/inner.txt" || return 1
	start_ns "mount -t overlay overlay -o lowerdir=$o/lower,upperdir=$o/upper,workdir=$o/work /tmp" ||
		{ echo "overlay mount failed: $(tail -2 "$TMP/targets.err")"; return 77; }
	ID=$(rwctl attach --pid "$TPID" --watch /tmp --json | jq -r .session) || return 1
	before=$(snap "/proc/$TPID/root/tmp")
	checkpoint || return 1
	# append changes a.txt of the lower layer (copied up), create adds a file.
	ask "go append /tmp" && expect "answer" "$ANSWER" done || return 1
	ask "go create /tmp/sub" && expect "answer" "$ANSWER" done || return 1
	if [ "$1" = rewind ]; then
		rewind_verified || return 1
		expect "merged /tmp after the rewind" "$(snap "/proc/$TPID/root/tmp")" "$before" || return 1
		notes=$(jq -r '.rewind.files.notes[]' <<<"$REWIND_JSON")
		# Blind (fanotify cannot reopen overlay directories by handle) is allowed:
		# then the rewind says so and compares the tree whole, every time.
		if grep -q "cannot be seen" <<<"$notes"; then
			expect "blind tree compared whole" \
				"$(jq -r .rewind.files.full_comparisons <<<"$REWIND_JSON")" 1 || return 1
		else
			by_the_log || return 1
		fi
	else
		[ "$(snap "/proc/$TPID/root/tmp")" != "$before" ] || { echo "tree unchanged"; return 1; }
	fi
	expect "the lower layer" "$(cat "$o/lower/a.txt")" alpha
}
test_mntns_overlay_tmp_changes_the_tree() { overlay_tmp; }
test_mntns_overlay_tmp() { overlay_tmp rewind; }

# A tracked child writes into the tree from a mount namespace of its own,
# through a bind mount the log names outside the tree: no path match can
# be trusted, the tree is compared whole.
other_view_write() {
	local w=$TMP/ov/w before
	rm -rf "$TMP/ov"
	mkdir -p "$w/sub" "$TMP/ov/outside" && echo alpha >"$w/a.txt" || return 1
	TARGET=$FSFN start_target 2>>"$TMP/targets.err" || return 1
	ID=$(rwctl attach --pid "$TPID" --watch "$w") || return 1
	before=$(snap "$w")
	checkpoint || return 1
	ask "go other_ns_write $w" && expect "answer" "$ANSWER" done || return 1
	[ -f "$w/sub/x" ] || { echo "the child wrote no file"; return 1; }
	if [ "$1" = rewind ]; then
		rewind_verified || return 1
		expect "tree after the rewind" "$(snap "$w")" "$before" || return 1
		jq -r '.rewind.files.notes[]' <<<"$REWIND_JSON" | grep -q "mount namespace" ||
			{ echo "no note on the other view: $(jq -c .rewind.files <<<"$REWIND_JSON")"; return 1; }
	else
		[ "$(snap "$w")" != "$before" ] || { echo "tree unchanged"; return 1; }
	fi
}
test_mntns_other_view_write_changes_the_tree() { other_view_write; }
test_mntns_other_view_write() { other_view_write rewind; }

# An empty cgroup at attach: the tree is resolved in rewindd's own view; a
# process that joins from another mount namespace fails the checkpoint.
test_mntns_empty_cgroup_other_namespace() {
	local cg out
	cg=$(cgroup2_root)/$CG_NAME
	[ -n "$(cgroup2_root)" ] || { echo "no cgroup2 mount"; return 77; }
	mkdir -p "$cg" "$TMP/w" || return 1
	ID=$(rwctl attach --cgroup "$cg" --watch "$TMP/w") || return 1
	start_ns true || return 1
	echo "$TPID" >"$cg/cgroup.procs" || return 1
	out=$(rwctl checkpoint "$ID" 2>&1) && { echo "checkpointed: $out"; return 1; }
	grep -q "pid $TPID sees mnt:" <<<"$out" || { echo "message: $out"; return 1; }
	rwctl detach "$ID" >/dev/null
	stop_target
	rmdir "$cg" 2>/dev/null
	return 0
}

# report --canary reads the file the target wrote, in its namespace; the
# host's file of the same name has the token too, at another offset.
canary_ns() {
	local d=$TMP/cdir c offs
	rm -rf "$d"
	mkdir -p "$d" && echo "tok_c4n4ry in the host's file" >"$d/cache.txt" || return 1
	start_ns "mount -t tmpfs rwc $d" || return 1
	ID=$(rwctl attach --pid "$TPID" --report "$@") || return 1
	ask "plant tok_c4n4ry $d" || return 1
	rwctl mark "$ID" >/dev/null || return 1
	c=$(rwctl report "$ID" --canary tok_c4n4ry --json | tail -1 | jq -c .canary)
	offs=$(jq -r --arg p "$d/cache.txt" '[.files[] | select(.path == $p) | .offset] | join(",")' <<<"$c")
	expect "hits in $d/cache.txt (the target's: offset 9; the host's: 0)" "$offs" 9 ||
		{ echo "$c"; return 1; }
}
test_mntns_canary_logged() { canary_ns; }
test_mntns_canary_watched() { canary_ns --watch "$TMP/cdir"; }

start_daemon --state-dir "$STATE" || { for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done; exit 0; }
for t in "${TESTS[@]}"; do
	run_test "$t" "test_$t"
done
