#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# File rollback of watched trees and the canary audit, end to end. The
# function is tests/integ/fsfn; the trees are described from outside with
# find, sha256sum and getfattr (snap), never with rewindd's own code: the
# description before the checkpoint must be the one after `rewind --verify`.
# Each scenario also proves once that the invocation does change the tree.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

TARGET=$PWD/$OUTPUT/tests/integ/fsfn
STATE=$TMP/state
# Trees on tmpfs live here; removed with the rest at exit.
SHM=$(mktemp -d /dev/shm/rewindd-test.XXXXXX)
files_cleanup() {
	rm -rf "$SHM"
	cleanup
}
trap files_cleanup EXIT

SCENARIOS=(create long_names modify_keep_mtime append truncate delete rename_over mkdir_tree rmdir_tree
	   symlink hardlink unlink_hardlinked chmod xattr big mmap child_write sqlite shm_create
	   touch_one_of_10k)
TESTS=()
for s in "${SCENARIOS[@]}"; do
	TESTS+=("files_${s}_changes_the_tree" "files_$s")
done
TESTS+=(files_rename_out_of_tree files_foreign_writer files_status_store files_persisting_report
	files_store_corrupted_fails_closed files_watch_errors files_state_dir_errors canary_report_mode
	canary_gone_after_rewind)
only_tests FILES_ONLY
require_root "${TESTS[@]}"
command -v getfattr >/dev/null || { for t in "${TESTS[@]}"; do echo "SKIP $t: getfattr (package attr) is missing"; done; exit 0; }

# A fresh tree per test: W is watched, its sibling "outside" is not.
make_tree() {
	local base=${2:-$TMP}
	W=$(mktemp -d "$base/tree.XXXXXX")/w
	mkdir -p "$W/sub" "$(dirname "$W")/outside"
	printf 'alpha alpha alpha\n' >"$W/a.txt"
	printf 'bravo\n' >"$W/b.txt"
	printf 'inner\n' >"$W/sub/inner.txt"
	ln "$W/a.txt" "$W/pair.txt"
	ln -s a.txt "$W/to_a"
	setfattr -n user.keep -v 1 "$W/b.txt"
	case "$1" in
	big) head -c $((100 << 20)) /dev/urandom >"$W/big" ;;
	sqlite)
		sqlite3 "$W/db.sqlite" "CREATE TABLE t (id INTEGER, v TEXT); INSERT INTO t VALUES (1, 'init');" ||
			return 1 ;;
	touch_one_of_10k)
		local d
		for d in $(seq 0 99); do
			mkdir "$W/d$d"
			(cd "$W/d$d" && for f in $(seq 0 99); do echo "$d.$f" >"f$d$f.txt"; done)
		done ;;
	esac
	# Times the invocation could not produce by chance.
	find "$W" -exec touch -h -d '2001-02-03 04:05:06.789' {} +
}

start_fsfn() {
	start_target 2>>"$TMP/targets.err"
}

attach_watch() {
	ID=$(rwctl attach --pid "$TPID" --watch "$W" "$@") || { echo "attach failed"; return 1; }
}

checkpoint_files() {
	local out
	out=$(rwctl checkpoint "$ID" --json 2>&1) || { echo "checkpoint failed: $out"; return 1; }
	CKPT_JSON=$out
	expect "checkpoint ok" "$(jq -r .ok <<<"$out")" true
}

rewind_verified() {
	REWIND_JSON=$(rwctl rewind "$ID" --verify --json 2>&1) ||
		{ echo "rewind --verify failed: $REWIND_JSON"; return 1; }
	expect "rewind verified" "$(jq -r .rewind.verified <<<"$REWIND_JSON")" true
}

invoke_scenario() {
	ask "go $1 $W" || return 1
	expect "function's answer to go $1" "$ANSWER" done
}

# scenario S [rewind]: the tree after the invocation differs from the checkpoint;
# with rewind, after `rewind --verify` it is the checkpoint's again, by the log alone.
scenario() {
	local s=$1 base=$TMP before after
	[ "$s" = shm_create ] && base=$SHM
	make_tree "$s" "$base" || return 1
	start_fsfn || return 1
	attach_watch || return 1
	before=$(snap "$W")
	checkpoint_files || return 1
	[ "$(snap "$W")" = "$before" ] || { echo "the checkpoint changed the tree"; return 1; }
	local go=$s
	case "$s" in shm_create) go=create ;; touch_one_of_10k) go=touch_one ;; esac
	invoke_scenario "$go" || return 1
	after=$(snap "$W")
	if [ "$2" != rewind ]; then
		[ "$after" != "$before" ] || { echo "invocation $go left the tree as it was"; return 1; }
		rm -rf "$(dirname "$W")"
		return 0
	fi
	rewind_verified || return 1
	after=$(snap "$W")
	if [ "$after" != "$before" ]; then
		echo "tree differs after the rewind: $(diff <(echo "$before") <(echo "$after") | head -5 | tr '\n' ' ')"
		return 1
	fi
	expect "trees compared whole" "$(jq -r .rewind.files.full_comparisons <<<"$REWIND_JSON")" 0 || return 1
	local touched
	touched=$(jq -r .rewind.files.touched <<<"$REWIND_JSON")
	[ "$touched" -ge 1 ] 2>/dev/null || { echo "touched entries: $touched"; return 1; }
	if declare -F "check_$s" >/dev/null; then
		"check_$s" || return 1
	fi
	rm -rf "$(dirname "$W")"
}

# Per scenario checks beyond the tree description.
check_sqlite() {
	expect "rows after the rewind" "$(sqlite3 "$W/db.sqlite" 'SELECT count(*) FROM t')" 1
}
check_touch_one_of_10k() {
	local n
	n=$(jq -r .rewind.files.entries_examined <<<"$REWIND_JSON")
	# The touched file, its directory, the root: a handful, never the 10k.
	[ "$n" -lt 100 ] 2>/dev/null || { echo "entries examined for one touched file: $n"; return 1; }
}
check_unlink_hardlinked() {
	expect "a.txt and pair.txt one inode" "$(stat -c %i "$W/a.txt")" "$(stat -c %i "$W/pair.txt")"
}
check_big() {
	expect "big's size" "$(stat -c %s "$W/big")" $((100 << 20))
}

for s in "${SCENARIOS[@]}"; do
	eval "test_files_${s}_changes_the_tree() { scenario $s; }"
	eval "test_files_$s() { scenario $s rewind; }"
done

# A rename out of the tree is only half in it: the tree is compared whole.
test_files_rename_out_of_tree() {
	local before
	make_tree rename_out || return 1
	start_fsfn && attach_watch && checkpoint_files || return 1
	before=$(snap "$W")
	invoke_scenario rename_out || return 1
	[ -e "$(dirname "$W")/outside/b.txt" ] || { echo "rename did not happen"; return 1; }
	rewind_verified || return 1
	expect "tree after the rewind" "$(snap "$W")" "$before" || return 1
	expect "trees compared whole" "$(jq -r .rewind.files.full_comparisons <<<"$REWIND_JSON")" 1 || return 1
	jq -r '.rewind.files.notes[]' <<<"$REWIND_JSON" | grep -q "renamed into or out of" ||
		{ echo "no note on the rename: $(jq -c .rewind.files <<<"$REWIND_JSON")"; return 1; }
}

# A process the session does not track (this script) changes the tree: the log
# cannot know, fanotify does, and the rewind compares the tree whole.
test_files_foreign_writer() {
	local before
	make_tree foreign || return 1
	start_fsfn && attach_watch && checkpoint_files || return 1
	before=$(snap "$W")
	invoke_scenario append || return 1
	printf 'written by a stranger\n' >>"$W/b.txt"
	rm "$W/sub/inner.txt"
	rewind_verified || return 1
	expect "tree after the rewind" "$(snap "$W")" "$before" || return 1
	expect "trees compared whole" "$(jq -r .rewind.files.full_comparisons <<<"$REWIND_JSON")" 1 || return 1
	jq -r '.rewind.files.notes[]' <<<"$REWIND_JSON" | grep -q "does not track" ||
		{ echo "no note on the stranger: $(jq -c .rewind.files <<<"$REWIND_JSON")"; return 1; }
	# The next invocation is back to the log alone.
	invoke_scenario create || return 1
	rewind_verified || return 1
	expect "trees compared whole next time" "$(jq -r .rewind.files.full_comparisons <<<"$REWIND_JSON")" 0
}

test_files_status_store() {
	local bytes
	make_tree big || return 1
	start_fsfn && attach_watch && checkpoint_files || return 1
	bytes=$(rwctl status "$ID" --json | jq -r '.sessions[0].store_bytes')
	# ext4 has no reflinks: the 100 MB file is copied into the store.
	[ "$bytes" -ge $((100 << 20)) ] 2>/dev/null || { echo "store_bytes $bytes"; return 1; }
	expect "watched tree in status" "$(rwctl status "$ID" --json | jq -r '.sessions[0].watch[0]')" "$W" || return 1
	rwctl status | grep -q "content store 10[0-9]\.[0-9] MiB" || { echo "status: $(rwctl status)"; return 1; }
	rwctl detach "$ID" >/dev/null || return 1
	# The daemon's own directory stays (rewindd-BOOT-PID-START), empty.
	[ -z "$(find "$STATE" -mindepth 2)" ] || { echo "store left after detach: $(ls -R "$STATE" | head)"; return 1; }
}

# Report sessions list, per invocation, the files that stay behind.
test_files_persisting_report() {
	local r
	make_tree report || return 1
	start_fsfn || return 1
	ID=$(rwctl attach --pid "$TPID" --report) || return 1
	invoke_scenario create || return 1
	invoke_scenario append || return 1
	rwctl mark "$ID" >/dev/null || return 1
	r=$(report_of "$ID" 1)
	expect "new.txt created" "$(jq -r --arg p "$W/new.txt" '.files_persisting[] | select(.path == $p) | .change' <<<"$r")" created || return 1
	expect "new.txt size" "$(jq -r --arg p "$W/new.txt" '.files_persisting[] | select(.path == $p) | .size' <<<"$r")" "$(stat -c %s "$W/new.txt")" || return 1
	expect "a.txt modified" "$(jq -r --arg p "$W/a.txt" '.files_persisting[] | select(.path == $p) | .change' <<<"$r")" modified || return 1
	rwctl report "$ID" | grep -q "files that persist after it" || { echo "human report lacks the section"; return 1; }
}

# A store that lost its content cannot restore: the rewind fails naming the path,
# the session is failed and the function is killed, never run on.
test_files_store_corrupted_fails_closed() {
	local out
	make_tree corrupt || return 1
	start_fsfn && attach_watch && checkpoint_files || return 1
	find "$STATE" -type f -delete
	invoke_scenario append || return 1
	out=$(rwctl rewind "$ID" 2>&1) && { echo "rewind succeeded with an empty store"; return 1; }
	grep -q "store corrupted" <<<"$out" || { echo "message: $out"; return 1; }
	grep -q "$W/a.txt" <<<"$out" || { echo "message lacks the path: $out"; return 1; }
	expect "state" "$(rwctl status "$ID" --json | jq -r '.sessions[0].state')" failed || return 1
	expect_dead "$TPID"
}

expect_dead() {
	local end=$((SECONDS + 10))
	while [ -e "/proc/$1" ] && [ "$(awk '$1 == "State:" { print $2 }' "/proc/$1/status" 2>/dev/null)" != Z ]; do
		[ $SECONDS -lt $end ] || { echo "function $1 still alive"; return 1; }
	done
}

test_files_watch_errors() {
	local out
	make_tree errors || return 1
	start_fsfn || return 1
	out=$(rwctl attach --pid "$TPID" --watch "$TMP/nonexistent" 2>&1) && { echo "attached to a missing dir"; return 1; }
	grep -q "nonexistent" <<<"$out" || { echo "message: $out"; return 1; }
	out=$(rwctl attach --pid "$TPID" --watch "$W/a.txt" 2>&1) && { echo "watched a file"; return 1; }
	grep -qi "not a directory" <<<"$out" || { echo "message: $out"; return 1; }
	out=$(rwctl attach --pid "$TPID" --watch "$W" --watch "$W/sub" 2>&1) && { echo "overlapping trees"; return 1; }
	grep -q "overlaps" <<<"$out" || { echo "message: $out"; return 1; }
	out=$(rwctl attach --pid "$TPID" --watch "$TMP" 2>&1) && { echo "watched the state dir's parent"; return 1; }
	grep -q "state directory" <<<"$out" || { echo "message: $out"; return 1; }
	expect "sessions left" "$(rwctl status --json | jq '.sessions | length')" 0
}

# A state directory that is not absolute, or not a directory: clear errors, no session.
test_files_state_dir_errors() {
	local out
	out=$("$RWD" --socket "$TMP/bad.sock" --state-dir relative/dir 2>&1) && { echo "relative --state-dir accepted"; return 1; }
	grep -q "absolute" <<<"$out" || { echo "message: $out"; return 1; }
	: >"$TMP/not-a-dir"
	start_extra_daemon bad --state-dir "$TMP/not-a-dir" || { echo "daemon did not start"; return 1; }
	make_tree statedir || return 1
	start_fsfn || return 1
	out=$("$CTL" --socket "$TMP/bad.sock" attach --pid "$TPID" --watch "$W" 2>&1) &&
		{ echo "attached with a file as state dir"; return 1; }
	grep -q "not-a-dir" <<<"$out" || { echo "message: $out"; return 1; }
	expect "sessions left" "$("$CTL" --socket "$TMP/bad.sock" status --json | jq '.sessions | length')" 0
}

# report --canary: the token is found where the function left it.
test_canary_report_mode() {
	local out global heap c
	make_tree canary || return 1
	start_fsfn || return 1
	ID=$(rwctl attach --pid "$TPID" --report --watch "$W") || return 1
	ask "plant tok_5f2a9c $W" || return 1
	read -r _ global heap <<<"$ANSWER"
	rwctl mark "$ID" >/dev/null || return 1
	out=$(rwctl report "$ID" --canary tok_5f2a9c --json) || { echo "report failed: $out"; return 1; }
	c=$(tail -1 <<<"$out" | jq -c .canary)
	jq -e --arg a "$global" '.memory[] | select(.address == $a and (.mapping | endswith("/fsfn")))' <<<"$c" >/dev/null ||
		{ echo "global $global not reported: $(jq -c .memory <<<"$c")"; return 1; }
	jq -e --arg a "$heap" '.memory[] | select(.address == $a and .mapping == "[heap]")' <<<"$c" >/dev/null ||
		{ echo "heap residue $heap not reported: $(jq -c .memory <<<"$c")"; return 1; }
	expect "file hit" "$(jq -r --arg p "$W/cache.txt" '.files[] | select(.path == $p) | .offset' <<<"$c")" 9 || return 1
	rwctl report "$ID" --canary tok_5f2a9c | grep -q "canary \"tok_5f2a9c\" after invocation 1" ||
		{ echo "human canary report: $(rwctl report "$ID" --canary tok_5f2a9c | tail -5)"; return 1; }
}

# After a rewind the token is nowhere: not in memory, not in the watched tree.
test_canary_gone_after_rewind() {
	local c
	make_tree canary || return 1
	start_fsfn && attach_watch && checkpoint_files || return 1
	ask "plant tok_77e1d0 $W" || return 1
	c=$(rwctl report "$ID" --canary tok_77e1d0 --json | tail -1 | jq -c .canary)
	[ "$(jq -r .memory_total <<<"$c")" -ge 2 ] && [ "$(jq -r .files_total <<<"$c")" -ge 1 ] ||
		{ echo "before the rewind the canary should be found: $c"; return 1; }
	rewind_verified || return 1
	c=$(rwctl report "$ID" --canary tok_77e1d0 --json | tail -1 | jq -c .canary)
	expect "canary in memory after the rewind" "$(jq -r .memory_total <<<"$c")" 0 || return 1
	expect "canary in files after the rewind" "$(jq -r .files_total <<<"$c")" 0
}

start_daemon --state-dir "$STATE" || { for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done; exit 0; }
for t in "${TESTS[@]}"; do
	run_test "$t" "test_$t"
done
