#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Report mode end to end: real target programs do known work; the report
# must match it exactly, in pid mode and in cgroup mode.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

TESTS=(report_pages37 report_rearm_each_mark report_new_mmap report_brk report_kernel_write
       report_files report_thread report_fork_child report_cgroup report_cgroup_id
       report_cgroup_fork report_seccomp_target report_dropped_events report_human_output
       report_state_umask report_state_fd report_state_nice report_state_thread_signal
       report_state_personality daemon_foreground
       daemon_second_instance)
require_root "${TESTS[@]}"
start_daemon || { for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done; exit 0; }

# The row of a mapping that starts at a hex address, from one invocation's JSON.
row_pages() { jq -r --argjson a "$((16#$2))" '[.mappings[] | select(.start == $a) | .pages_written] | add // 0' <<<"$1"; }

report_pages37() {
	start_target pages37 || return 1
	local addr id r
	addr=$(cut -d' ' -f2 <<<"$READY")
	id=$("$CTL" attach --pid "$TPID" --report) || return 1
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	r=$(report_of "$id" 1)
	expect "pages written in the 64-page region (37 distinct, one 1000 times)" "$(row_pages "$r" "$addr")" 37 || return 1
	expect "region row is anonymous" "$(jq -r --argjson a "$((16#$addr))" '.mappings[] | select(.start == $a) | .name' <<<"$r")" "" || return 1
	expect "stack row named" "$(jq -r '[.mappings[] | select(.name == "[stack]")] | length' <<<"$r")" 1 || return 1
	expect "every row belongs to the target" "$(jq '[.mappings[].pid] | unique' -c <<<"$r")" "[$TPID]" || return 1
	expect "JSON keys" "$(jq -c '[has("invocation","pages_written","mappings","layout","files","tasks","dropped")] | all' <<<"$r")" true || return 1
	expect "dropped" "$(jq .dropped <<<"$r")" 0 || return 1
	expect "total is the sum of the rows" "$(jq '[.mappings[].pages_written] | add' <<<"$r")" "$(jq .pages_written <<<"$r")" || return 1
	"$CTL" detach "$id" >/dev/null
}

# Write protection is re-armed at each mark: the same pages count again.
# Process state a rewind would put back, named by class (rewindctl classes ids)
# in state_changes: an invocation that changes nothing lists none; one that
# changes the scenario's state lists exactly its class (tests/zdtm scenarios).
state_case() {
	local scenario=$1 want=$2 id r ids TARGET=$PWD/$OUTPUT/tests/zdtm/zdtm
	start_target "$scenario" || return 1
	id=$("$CTL" attach --pid "$TPID" --report) || return 1
	"$CTL" mark "$id" >/dev/null || return 1
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	expect "state changes of an invocation that did nothing" \
		"$(report_of "$id" 1 | jq -c '.state_changes')" "[]" || return 1
	r=$(report_of "$id" 2)
	expect "classes changed by $scenario" "$(jq -c '[.state_changes[].class] | unique' <<<"$r")" "[\"$want\"]" || return 1
	expect "every change names the target" "$(jq -c '[.state_changes[].pid] | unique' <<<"$r")" "[$TPID]" || return 1
	ids=$("$CTL" --json classes | jq -c '[.[].id]')
	expect "$want is a class of rewindctl classes" "$(jq --arg c "$want" 'index($c) != null' <<<"$ids")" true || return 1
	"$CTL" report "$id" | grep -q "pid $TPID: $want: " || { echo "the text report does not show the $want change"; return 1; }
	"$CTL" detach "$id" >/dev/null
}
report_state_umask() { state_case umask cwd_umask; }
report_state_fd() { state_case fd_new fds; }
report_state_nice() { state_case nice thread_attrs; }
report_state_thread_signal() { state_case thread_signal pending_signals; }
report_state_personality() { state_case personality personality; }

report_rearm_each_mark() {
	start_target pages37 || return 1
	local addr id
	addr=$(cut -d' ' -f2 <<<"$READY")
	id=$("$CTL" attach --pid "$TPID" --report) || return 1
	for i in 1 2 3; do
		invoke && "$CTL" mark "$id" >/dev/null || return 1
	done
	"$CTL" mark "$id" >/dev/null || return 1	# an idle invocation writes nothing there
	for i in 1 2 3; do
		expect "invocation $i region pages" "$(row_pages "$(report_of "$id" $i)" "$addr")" 37 || return 1
	done
	expect "idle invocation region pages" "$(row_pages "$(report_of "$id" 4)" "$addr")" 0 || return 1
	"$CTL" detach "$id" >/dev/null
}

report_new_mmap() {
	start_target mmap5 || return 1
	local id r addr
	id=$("$CTL" attach --pid "$TPID" --report) || return 1
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	addr=$(cut -d' ' -f2 <<<"$DONE")
	r=$(report_of "$id" 1)
	expect "mmap recorded" "$(jq --argjson a "$((16#$addr))" '[.layout[] | select(.op == "mmap" and .result == $a and .len == 20480)] | length' <<<"$r")" 1 || return 1
	expect "pages written in the new mapping" "$(row_pages "$r" "$addr")" 5 || return 1
	# Second invocation: the first mapping is now armed and untouched.
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	r=$(report_of "$id" 2)
	expect "old mapping untouched" "$(row_pages "$r" "$addr")" 0 || return 1
	expect "new mapping" "$(row_pages "$r" "$(cut -d' ' -f2 <<<"$DONE")")" 5 || return 1
	"$CTL" detach "$id" >/dev/null
}

report_brk() {
	start_target brk 6 || return 1
	local id r
	id=$("$CTL" attach --pid "$TPID" --report) || return 1
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	r=$(report_of "$id" 1)
	expect "brk growth recorded" "$(jq '[.layout[] | select(.op == "brk" and .addr != 0 and .result == .addr)] | length' <<<"$r")" 1 || return 1
	expect "heap pages" "$(jq '[.mappings[] | select(.name == "[heap]") | .pages_written] | add' <<<"$r")" 6 || return 1
	"$CTL" detach "$id" >/dev/null
}

report_kernel_write() {
	start_target readbuf || return 1
	local id r addr
	addr=$(cut -d' ' -f2 <<<"$READY")
	id=$("$CTL" attach --pid "$TPID" --report) || return 1
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	r=$(report_of "$id" 1)
	expect "page written by read(2)" "$(row_pages "$r" "$addr")" 1 || return 1
	[ "$(jq .kernel_write_faults <<<"$r")" -ge 1 ] || { echo "no kernel-mode write fault recorded"; return 1; }
	"$CTL" detach "$id" >/dev/null
}

report_files() {
	local dir=$TMP/files id r
	mkdir -p "$dir" && touch "$dir/c" || return 1
	start_target files "$dir" || return 1
	id=$("$CTL" attach --pid "$TPID" --report) || return 1
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	r=$(report_of "$id" 1)
	expect "files" "$(jq -c '[.files[] | {path, w: (.ops | index("write") != null), b: .bytes_written, created, deleted}] | sort_by(.path)' <<<"$r")" \
		"[{\"path\":\"$dir/a\",\"w\":true,\"b\":100,\"created\":true,\"deleted\":false},{\"path\":\"$dir/b\",\"w\":true,\"b\":50,\"created\":true,\"deleted\":false},{\"path\":\"$dir/c\",\"w\":false,\"b\":0,\"created\":false,\"deleted\":true}]" || return 1
	# Second invocation: appends to existing files, nothing created.
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	r=$(report_of "$id" 2)
	expect "second invocation" "$(jq -c '[.files[] | select(.bytes_written > 0) | {path, b: .bytes_written, created}] | sort_by(.path)' <<<"$r")" \
		"[{\"path\":\"$dir/a\",\"b\":100,\"created\":false},{\"path\":\"$dir/b\",\"b\":50,\"created\":false}]" || return 1
	"$CTL" detach "$id" >/dev/null
}

report_thread() {
	start_target thread || return 1
	local id r tid
	id=$("$CTL" attach --pid "$TPID" --report) || return 1
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	tid=$(cut -d' ' -f2 <<<"$DONE")
	r=$(report_of "$id" 1)
	expect "tasks" "$(jq -c --argjson t "$tid" '[.tasks[] | select(.pid == $t) | .op]' <<<"$r")" '["new_thread","exit_thread"]' || return 1
	expect "thread's tgid" "$(jq -c --argjson t "$tid" '[.tasks[] | select(.pid == $t) | .tgid] | unique' <<<"$r")" "[$TPID]" || return 1
	"$CTL" detach "$id" >/dev/null
}

# pid mode follows children: the child's writes and its life are in the report.
report_fork_child() {
	start_target fork || return 1
	local id r child
	id=$("$CTL" attach --pid "$TPID" --report) || return 1
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	child=$(cut -d' ' -f2 <<<"$DONE")
	r=$(report_of "$id" 1)
	expect "child's tasks" "$(jq -c --argjson c "$child" '[.tasks[] | select(.pid == $c) | .op]' <<<"$r")" '["new_process","exit_process"]' || return 1
	[ "$(jq --argjson c "$child" '[.mappings[] | select(.pid == $c) | .pages_written] | add // 0' <<<"$r")" -ge 3 ] ||
		{ echo "child's 3 written pages missing: $r"; return 1; }
	expect "parent's region untouched" "$(row_pages "$r" "$(cut -d' ' -f2 <<<"$READY")")" 0 || return 1
	"$CTL" detach "$id" >/dev/null
}

make_cgroup() {
	local root
	root=$(cgroup2_root)
	[ -n "$root" ] || { echo "no cgroup v2 mount"; return 77; }
	CG=$root/$CG_NAME
	mkdir -p "$CG" || return 1
}

cgroup_case() {
	local how=$1 id r addr dir=$TMP/cgfiles
	make_cgroup || return $?
	mkdir -p "$dir"
	start_target pages37 || return 1
	addr=$(cut -d' ' -f2 <<<"$READY")
	echo "$TPID" >"$CG/cgroup.procs" || return 1
	if [ "$how" = path ]; then
		id=$("$CTL" attach --cgroup "$CG" --report) || return 1
	else
		id=$("$CTL" attach --cgroup-id "$(stat -c %i "$CG")" --report) || return 1
	fi
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	r=$(report_of "$id" 1)
	expect "region pages in cgroup mode" "$(row_pages "$r" "$addr")" 37 || return 1
	expect "status names the cgroup" "$("$CTL" status "$id" --json | jq -r '.sessions[0].cgroup')" "$CG" || return 1
	"$CTL" detach "$id" >/dev/null
	stop_target
	rmdir "$CG"
}
report_cgroup() { cgroup_case path; }
report_cgroup_id() { cgroup_case id; }

# cgroup mode tracks every process of the cgroup, including children, by cgroup id.
report_cgroup_fork() {
	local id r child
	make_cgroup || return $?
	start_target fork || return 1
	echo "$TPID" >"$CG/cgroup.procs" || return 1
	id=$("$CTL" attach --cgroup "$CG" --report) || return 1
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	child=$(cut -d' ' -f2 <<<"$DONE")
	r=$(report_of "$id" 1)
	expect "child's tasks" "$(jq -c --argjson c "$child" '[.tasks[] | select(.pid == $c) | .op]' <<<"$r")" '["new_process","exit_process"]' || return 1
	[ "$(jq --argjson c "$child" '[.mappings[] | select(.pid == $c) | .pages_written] | add // 0' <<<"$r")" -ge 3 ] ||
		{ echo "child's pages missing: $r"; return 1; }
	"$CTL" detach "$id" >/dev/null
	stop_target
	rmdir "$CG"
}

# A target whose seccomp filter kills it on userfaultfd() is armed all the
# same (the filter is suspended while rewindd injects): its pages written in a
# pre-faulted region come from the write-protection scan, and it survives.
report_seccomp_target() {
	local id r addr i
	start_target seccomp || return 1
	addr=$(cut -d' ' -f2 <<<"$READY")
	id=$("$CTL" attach --pid "$TPID" --report 2>"$TMP/attach.err") || return 1
	! grep -q "seccomp" "$TMP/attach.err" || { echo "not armed: $(cat "$TMP/attach.err")"; return 1; }
	for i in 1 2; do
		invoke && "$CTL" mark "$id" >/dev/null || { echo "target died or mark failed"; return 1; }
		r=$(report_of "$id" $i)
		expect "invocation $i region pages from the scan" "$(row_pages "$r" "$addr")" 37 || return 1
	done
	expect "Seccomp of the target" "$(awk '$1 == "Seccomp:" { print $2 }' "/proc/$TPID/status")" 2 || return 1
	"$CTL" detach "$id" >/dev/null
}

# A ring buffer far too small: drops are counted and reported, and the page
# count stays exact because the write-protection scan is the authority.
report_dropped_events() {
	local id r addr
	start_extra_daemon small --ringbuf-size 4096 || return 1
	start_target many 20000 || return 1
	addr=$(cut -d' ' -f2 <<<"$READY")
	id=$("$CTL" --socket "$TMP/small.sock" attach --pid "$TPID" --report) || return 1
	# A stopped consumer: the 4 KiB ring overflows for certain.
	kill -STOP "$(cat "$TMP/small.extra.pid")"
	invoke
	kill -CONT "$(cat "$TMP/small.extra.pid")"
	"$CTL" --socket "$TMP/small.sock" mark "$id" >/dev/null || return 1
	r=$("$CTL" --socket "$TMP/small.sock" report "$id" --json | jq -c 'select(.invocation == 1)')
	[ "$(jq .dropped <<<"$r")" -gt 0 ] || { echo "no drops reported: $(jq -c '{dropped, fault_records}' <<<"$r")"; return 1; }
	expect "complete flag" "$(jq .complete <<<"$r")" false || return 1
	expect "region pages despite drops" "$(row_pages "$r" "$addr")" 20000 || return 1
	[ "$("$CTL" --socket "$TMP/small.sock" status --json | jq '.sessions[0].dropped')" -gt 0 ] || { echo "status hides drops"; return 1; }
}

# The human table shows the same numbers as the JSON.
report_human_output() {
	start_target pages37 || return 1
	local addr id out
	addr=$(cut -d' ' -f2 <<<"$READY")
	id=$("$CTL" attach --pid "$TPID" --report) || return 1
	invoke && "$CTL" mark "$id" >/dev/null || return 1
	out=$("$CTL" report "$id")
	grep -q "^invocation 1 " <<<"$out" || { echo "no invocation header: $out"; return 1; }
	grep -Eq "^ +$TPID +$addr +[0-9a-f]+ +rw-p +37 " <<<"$out" || { echo "no region row with 37 pages: $out"; return 1; }
	"$CTL" detach "$id" >/dev/null
}

# Foreground mode: logs to stderr; its "serving" line says the socket is ready.
daemon_foreground() {
	local sock=$TMP/fg.sock line pid
	coproc FG { exec "$RWD" --foreground --socket "$sock" 2>&1; }
	pid=$FG_PID
	read -r line <&"${FG[0]}"
	grep -q "serving $sock" <<<"$line" || { echo "first line: $line"; kill "$pid"; return 1; }
	"$CTL" --socket "$sock" status >/dev/null || { kill "$pid"; return 1; }
	kill -TERM "$pid"
	wait "$pid"
	expect "exit status after SIGTERM" $? 0 || return 1
	[ ! -e "$sock" ] || { echo "socket left behind"; return 1; }
}

# A second daemon on a live socket refuses to start; the first keeps serving.
daemon_second_instance() {
	local out
	out=$("$RWD" --foreground --socket "$SOCK" 2>&1)
	[ $? = 1 ] || { echo "second daemon did not fail: $out"; return 1; }
	grep -q "another rewindd is serving" <<<"$out" || { echo "message: $out"; return 1; }
	"$CTL" status >/dev/null
}

for t in "${TESTS[@]}"; do
	run_test "$t" "$t"
done
