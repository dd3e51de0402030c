#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Bad input gets a clear error and a non-zero exit; the daemon keeps serving.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

TESTS=(err_unknown_pid err_zombie_pid err_kernel_thread err_no_cgroup err_malformed_request
       err_oversized_request err_unknown_session err_unauthorised_client err_socket_mode
       err_unauthorised_descendant
       err_second_attach err_target_exits err_no_daemon err_mode_mismatch err_rewind_without_checkpoint
       err_checkpoint_seccomp err_checkpoint_seccomp_without_rights err_checkpoint_exited
       err_usage err_pipelined_requests)
require_root "${TESTS[@]}"
start_daemon || { for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done; exit 0; }

# The daemon still answers after the bad input.
still_serving() {
	"$CTL" status >/dev/null || { echo "rewindd stopped serving"; return 1; }
}

# Raw bytes to the socket, the answer line back (for requests rewindctl would never send).
raw_request() {
	/usr/bin/python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.shutdown(socket.SHUT_WR)
print(s.makefile().readline().strip())
PY
}

err_unknown_pid() {
	expect_error "no such process: 999999" "$CTL" attach --pid 999999 --report && still_serving
}

err_zombie_pid() {
	start_target quit || return 1
	echo go >&"$TIN"
	# EOF on its stdout: it has exited; not reaped yet, so it is a zombie.
	read -r _ <&"$TOUT"
	expect_error "exited \\(zombie\\)|no such process" "$CTL" attach --pid "$TPID" --report && still_serving
}

err_kernel_thread() {
	# pid 2 is kthreadd: no user memory to track.
	expect_error "no user memory" "$CTL" attach --pid 2 --report && still_serving
}

err_no_cgroup() {
	expect_error "no such cgroup" "$CTL" attach --cgroup "$(cgroup2_root)/does-not-exist-$$" --report || return 1
	expect_error "not a cgroup v2 directory" "$CTL" attach --cgroup /tmp --report || return 1
	expect_error "no cgroup with id" "$CTL" attach --cgroup-id 987654321 --report && still_serving
}

err_malformed_request() {
	local r
	r=$(raw_request '{bad json\n')
	expect "not JSON" "$(jq -c '[.ok, (.error | test("malformed|JSON"; "i"))]' <<<"$r")" '[false,true]' || return 1
	r=$(raw_request '[1,2]\n')
	expect "not an object" "$(jq -c '.ok' <<<"$r")" false || return 1
	r=$(raw_request '{"cmd":"explode"}\n')
	expect "unknown command" "$(jq -c '[.ok, (.error | test("unknown command"))]' <<<"$r")" '[false,true]' || return 1
	r=$(raw_request '{"cmd":"attach","pid":-5,"report":true}\n')
	expect "negative pid" "$(jq -c '.ok' <<<"$r")" false || return 1
	r=$(raw_request '{"cmd":"mark","session":"one"}\n')
	expect "wrong type" "$(jq -c '.ok' <<<"$r")" false || return 1
	still_serving
}

err_oversized_request() {
	local r
	r=$(/usr/bin/python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(b'{"cmd":"status","x":"' + b"a" * 200000)
except BrokenPipeError:
    pass
print(s.makefile().readline().strip())
PY
)
	expect "oversized" "$(jq -c '[.ok, (.error | test("too large"))]' <<<"$r")" '[false,true]' && still_serving
}

err_unknown_session() {
	expect_error "no session 77" "$CTL" mark 77 || return 1
	expect_error "no session 77" "$CTL" report 77 || return 1
	expect_error "no session 77" "$CTL" detach 77 && still_serving
}

# A client may reach only processes it could ptrace itself.
err_unauthorised_client() {
	local gid id
	getent group rwtest >/dev/null || groupadd -r rwtest || return 1
	gid=$(getent group rwtest | cut -d: -f3)
	start_extra_daemon grp --group rwtest || return 1
	start_target pages37 || return 1
	local as_nobody=(setpriv --reuid=65534 --regid=65534 --groups="$gid" "$CTL" --socket "$TMP/grp.sock")
	chmod 0711 "$TMP"
	expect_error "permission denied" "${as_nobody[@]}" attach --pid "$TPID" --report || return 1
	id=$("$CTL" --socket "$TMP/grp.sock" attach --pid "$TPID" --report) || return 1
	expect_error "permission denied: session $id belongs to uid 0" "${as_nobody[@]}" mark "$id" || return 1
	expect_error "permission denied" "${as_nobody[@]}" detach "$id" || return 1
	# Without the group, the socket itself is closed to it.
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --socket "$TMP/grp.sock" status 2>&1)
	[ $? = 3 ] || { echo "a client outside the group connected: $out"; return 1; }
	"$CTL" --socket "$TMP/grp.sock" status >/dev/null || { echo "daemon stopped serving"; return 1; }
}

# pid mode takes the target's children with it: each must be reachable too.
# The target runs as nobody (dumpable); its child, forked before, stays root.
err_unauthorised_descendant() {
	local gid parent child
	getent group rwtest >/dev/null || groupadd -r rwtest || return 1
	gid=$(getent group rwtest | cut -d: -f3)
	start_extra_daemon grp --group rwtest || return 1
	coproc TREE { /usr/bin/python3 -I -c '
import ctypes, os, sys
child = os.fork()
if child == 0:
    os.read(0, 1)
    os._exit(0)
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: setuid cleared it
print(os.getpid(), child, flush=True)
os.read(0, 1)
'; }
	read -r parent child <&"${TREE[0]}" || { echo "the tree did not start"; return 1; }
	chmod 0711 "$TMP"
	expect_error "permission denied: pid $child, a descendant of $parent, cannot be traced by uid 65534" \
		setpriv --reuid=65534 --regid=65534 --groups="$gid" "$CTL" --socket "$TMP/grp.sock" \
		attach --pid "$parent" --report
	local rc=$?
	kill -9 "$parent" "$child"
	wait "$TREE_PID" 2>/dev/null
	return $rc
}

err_socket_mode() {
	expect "default socket mode" "$(stat -c %a "$SOCK")" 600 || return 1
	expect "socket owner" "$(stat -c %u "$SOCK")" 0
}

err_second_attach() {
	local id
	start_target pages37 || return 1
	id=$("$CTL" attach --pid "$TPID" --report) || return 1
	expect_error "already attached \\(session $id\\)" "$CTL" attach --pid "$TPID" --report || return 1
	"$CTL" detach "$id" >/dev/null && still_serving
}

err_target_exits() {
	local id other
	start_target pages37 || return 1
	other=$("$CTL" attach --pid "$TPID" --report) || return 1
	local keep_pid=$TPID keep_in=$TIN keep_out=$TOUT
	coproc Q { exec "$TARGET" quit; }
	local qpid=$Q_PID
	read -r _ <&"${Q[0]}"
	id=$("$CTL" attach --pid "$qpid" --report) || return 1
	echo go >&"${Q[1]}"
	wait "$qpid"
	expect_error "exited during invocation 1" "$CTL" mark "$id" || return 1
	expect "state" "$("$CTL" status "$id" --json | jq -r '.sessions[0].state')" exited || return 1
	expect "report kept" "$("$CTL" report "$id" --json | jq -s length)" 1 || return 1
	expect_error "exited" "$CTL" mark "$id" || return 1
	# The other session is unaffected.
	TPID=$keep_pid TIN=$keep_in TOUT=$keep_out
	invoke && "$CTL" mark "$other" >/dev/null || { echo "other session broken"; return 1; }
	"$CTL" detach "$id" >/dev/null && "$CTL" detach "$other" >/dev/null
}

err_no_daemon() {
	local out
	out=$("$CTL" --socket "$TMP/nobody-here.sock" status 2>&1)
	[ $? = 3 ] || { echo "exit status for no daemon: want 3: $out"; return 1; }
	grep -q "is rewindd running" <<<"$out"
}

# A report session has no checkpoint; a rewind session ends invocations with rewind, not mark.
err_mode_mismatch() {
	local rep rew
	start_target pages37 || return 1
	rep=$("$CTL" attach --pid "$TPID" --report) || return 1
	expect_error "report session" "$CTL" checkpoint "$rep" || return 1
	expect_error "report session" "$CTL" rewind "$rep" || return 1
	"$CTL" detach "$rep" >/dev/null || return 1
	rew=$("$CTL" attach --pid "$TPID") || return 1
	expect_error "rewind session" "$CTL" mark "$rew" || return 1
	"$CTL" attach --pid "$TPID" --on-failure maybe 2>/dev/null
	[ $? = 2 ] || { echo "a bad --on-failure must be a usage error (2)"; return 1; }
	still_serving
}

err_rewind_without_checkpoint() {
	local id
	start_target pages37 || return 1
	id=$("$CTL" attach --pid "$TPID") || return 1
	expect_error "no checkpoint" "$CTL" rewind "$id" --verify || return 1
	expect_error "no session 200" "$CTL" rewind 200 || return 1
	# Still usable: the refusal changed nothing.
	"$CTL" checkpoint "$id" >/dev/null && invoke && "$CTL" rewind "$id" --verify >/dev/null &&
		still_serving
}

# A process whose seccomp filter kills it on userfaultfd() is checkpointed and
# rewound (the filter is suspended while rewindd injects) and runs on.
err_checkpoint_seccomp() {
	local id i
	start_target seccomp || return 1
	id=$("$CTL" attach --pid "$TPID") || return 1
	"$CTL" checkpoint "$id" >/dev/null || return 1
	for i in 1 2 3; do
		invoke || { echo "the target did not survive (invocation $i)"; return 1; }
		"$CTL" rewind "$id" --verify >/dev/null || return 1
	done
	kill -0 "$TPID" || { echo "target is gone"; return 1; }
	"$CTL" detach "$id" >/dev/null
	still_serving
}

# A rewindd without CAP_SYS_ADMIN cannot suspend a target's filter: a
# filtered target is refused, naming why, and never injected into (its
# filter could kill it); it runs on untouched.
err_checkpoint_seccomp_without_rights() {
	local id sock=$TMP/nocap.sock
	command -v capsh >/dev/null || { echo "capsh is missing (libcap2-bin)"; return 77; }
	capsh --drop=cap_sys_admin -- -c "exec '$RWD' --socket '$sock' --pidfile '$TMP/nocap.extra.pid'" ||
		{ echo "rewindd without CAP_SYS_ADMIN did not start"; return 1; }
	start_target seccomp || return 1
	id=$("$CTL" --socket "$sock" attach --pid "$TPID") || return 1
	expect_error "seccomp.*cannot suspend.*CAP_SYS_ADMIN" "$CTL" --socket "$sock" checkpoint "$id" || return 1
	invoke || { echo "the target did not survive the refusal"; return 1; }
}

err_checkpoint_exited() {
	local id
	start_target pages37 || return 1
	id=$("$CTL" attach --pid "$TPID") || return 1
	stop_target
	expect_error "exited|no longer|no such" "$CTL" checkpoint "$id" && still_serving
}

err_usage() {
	local out
	out=$("$CTL" frobnicate 2>&1); [ $? = 2 ] || { echo "unknown command: $out"; return 1; }
	out=$("$CTL" attach --pid abc 2>&1); [ $? = 2 ] || { echo "bad pid: $out"; return 1; }
	out=$("$CTL" attach --pid 1 --cgroup /x 2>&1); [ $? = 2 ] || { echo "two targets: $out"; return 1; }
	out=$("$CTL" mark 2>&1); [ $? = 2 ] || { echo "mark without id: $out"; return 1; }
	for size in abc 12X 0 -5 99999999999999999999G; do
		out=$("$RWD" --foreground --socket "$TMP/never.sock" --max-image-memory "$size" 2>&1)
		[ $? = 2 ] && grep -q 'max-image-memory needs a size' <<<"$out" ||
			{ echo "--max-image-memory $size: $out"; return 1; }
	done
	"$CTL" --help | grep -q EXAMPLES -i && "$RWD" --help | grep -qi examples
}

# Several requests in one write get their answers one by one, in order.
err_pipelined_requests() {
	local r
	r=$(/usr/bin/python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"status"}\n{"cmd":"mark","session":99}\n{"cmd":"status"}\n')
s.shutdown(socket.SHUT_WR)
f = s.makefile()
print(" ".join(str(__import__("json").loads(f.readline())["ok"]) for _ in range(3)))
PY
)
	expect "three answers in order" "$r" "True False True" && still_serving
}

for t in "${TESTS[@]}"; do
	run_test "$t" "$t"
done
