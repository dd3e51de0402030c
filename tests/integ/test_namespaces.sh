#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Clients and targets in other namespaces: a client in a pid namespace names
# its function by pidfd (never by its namespace's number), sees both pids in
# status; fds sent with requests are checked; a user namespace's root is its
# host uid to authorisation; a cgroup path is resolved where the client sees it.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

TARGET=$PWD/$OUTPUT/tests/zdtm/zdtm
TESTS=(ns_pidfd_attach_rewind ns_pidfd_leak_without_rewind ns_raw_pid_refused ns_status_both_pids
       ns_rewind_answer_both_pids ns_report_both_pids
       ns_pidfd_exited ns_fd_checks ns_userns_own_process ns_userns_root_process_refused
       ns_cgroup_in_client_mount_ns)
require_root "${TESTS[@]}"
for tool in unshare nsenter setpriv jq; do
	command -v $tool >/dev/null || { for t in "${TESTS[@]}"; do echo "SKIP $t: no $tool"; done; exit 0; }
done
if ! start_daemon; then
	for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done
	exit 0
fi

ns_cleanup() {
	rmdir "$(cgroup2_root)/$CG_NAME-ns" 2>/dev/null
	cleanup
}
trap ns_cleanup EXIT

# The zdtm counter in a new pid (and mount, for its /proc) namespace, not as
# its init: UPID is unshare, TPID the target's host pid, NSPID its own pid.
start_ns_target() {
	coproc TGT { exec unshare --pid --fork --mount-proc --kill-child \
		sh -c '"$0" "$@"; exit $?' "$TARGET" counter 2>>"$TMP/targets.err"; }
	UPID=$TGT_PID
	exec {TIN}>&"${TGT[1]}" {TOUT}<&"${TGT[0]}"
	read -r READY <&"$TOUT" || { echo "target did not start"; return 1; }
	local sh
	sh=$(awk "{ print \$1 }" /proc/"$UPID"/task/*/children)
	TPID=$(awk "{ print \$1 }" /proc/"$sh"/task/*/children)
	NSPID=$(awk '$1 == "NSpid:" { print $NF }' /proc/"$TPID"/status)
	[ -n "$NSPID" ] && [ "$NSPID" != "$TPID" ] || { echo "target not in its own pid namespace"; return 1; }
}

stop_ns_target() {
	[ -n "${UPID:-}" ] || return 0
	echo exit >&"$TIN" 2>/dev/null
	exec {TIN}>&- {TOUT}<&-
	wait "$UPID" 2>/dev/null
	UPID= TPID=
}

# A command in the target's pid and mount namespaces.
in_ns() { nsenter --target "$TPID" --pid --mount -- "$@"; }

# A protocol client in Python: ns_client SOCKET MODE [PID].
cat >"$TMP/client.py" <<'PY'
import json, os, socket, subprocess, sys
sock, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
attach = (json.dumps({"cmd": "attach", "pidfd": True, "report": True}) + "\n").encode()
if mode == "raw_pid":
    s.sendall((json.dumps({"cmd": "attach", "pid": int(sys.argv[3]), "report": True}) + "\n").encode())
elif mode == "exited":
    p = subprocess.Popen(["true"])
    fd = os.pidfd_open(p.pid)
    p.wait()
    socket.send_fds(s, [attach], [fd])
elif mode == "two_fds":
    me = os.pidfd_open(os.getpid())
    socket.send_fds(s, [attach], [me, os.dup(me)])
elif mode == "not_pidfd":
    socket.send_fds(s, [attach], [os.open("/dev/null", os.O_RDONLY)])
elif mode == "unasked":
    socket.send_fds(s, [b'{"cmd":"status"}\n'], [os.pidfd_open(os.getpid())])
elif mode == "no_fd":
    s.sendall(attach)
print(s.makefile().readline().strip())
PY
ns_client() { /usr/bin/python3 "$TMP/client.py" "$SOCK" "$@"; }

# attach (by the pid the namespace sees), checkpoint, one invocation; SID.
attach_from_ns() {
	start_ns_target || return 1
	SID=$(in_ns "$CTL" attach --pid "$NSPID" 2>&1) || { echo "attach from the namespace: $SID"; return 1; }
	expect "target of the session" "$(rwctl status "$SID" --json | jq -r '.sessions[0].pid')" "$TPID" ||
		return 1
	rwctl checkpoint "$SID" >/dev/null || { echo "checkpoint failed"; return 1; }
	ask go || return 1
	case "$ANSWER" in done*) ;; *) echo "target said: $ANSWER"; return 1 ;; esac
}

ns_pidfd_attach_rewind() {
	attach_from_ns || return 1
	out=$(rwctl rewind "$SID" --verify --json 2>&1) || { echo "rewind --verify: $out"; return 1; }
	expect "verified" "$(jq -r .rewind.verified <<<"$out")" true || return 1
	ask check || return 1
	expect "check after the rewind" "$ANSWER" pass
}

# The twin: without the rewind the invocation's change is there.
ns_pidfd_leak_without_rewind() {
	attach_from_ns || return 1
	ask check || return 1
	[ "$ANSWER" != pass ] || { echo "check passed without a rewind: the scenario proves nothing"; return 1; }
}

ns_raw_pid_refused() {
	start_ns_target || return 1
	out=$(in_ns /usr/bin/python3 "$TMP/client.py" "$SOCK" raw_pid "$NSPID")
	grep -q '"you are in another pid namespace: pass a pidfd (rewindctl does)"' <<<"$out" ||
		{ echo "raw pid from another namespace: $out"; return 1; }
	# The same number from rewindd's namespace is another process (or none): never the target.
	expect "sessions" "$(rwctl status --json | jq '.sessions | length')" 0
}

ns_status_both_pids() {
	local json
	start_ns_target || return 1
	SID=$(in_ns "$CTL" attach --pid "$NSPID" --report) || return 1
	json=$(rwctl status "$SID" --json)
	expect "session ns_pid" "$(jq -r '.sessions[0].ns_pid' <<<"$json")" "$NSPID" || return 1
	expect "target pid" "$(jq -r '.sessions[0].targets[0].pid' <<<"$json")" "$TPID" || return 1
	expect "target ns_pid" "$(jq -r '.sessions[0].targets[0].ns_pid' <<<"$json")" "$NSPID" || return 1
	rwctl status "$SID" | grep -q "pid $TPID (pid $NSPID in its namespace)" ||
		{ echo "status table: $(rwctl status "$SID")"; return 1; }
}

# The number the target knows itself by: its getpid(), from its ready line.
own_pid() {
	SELF=$(awk '{ print $3 }' <<<"$READY")
	[ -n "$SELF" ] && [ "$SELF" != "$TPID" ] ||
		{ echo "the target says it is pid '$SELF' (host pid $TPID): not in its own namespace"; return 1; }
}

ns_rewind_answer_both_pids() {
	local json human
	attach_from_ns || return 1
	own_pid || return 1
	json=$(rwctl rewind "$SID" --verify --json 2>&1) || { echo "rewind --verify: $json"; return 1; }
	expect "the plan's ns_pid" "$(jq -r ".rewind.plan[] | select(.pid == $TPID) | .ns_pid" <<<"$json")" \
		"$SELF" || return 1
	ask go || return 1
	human=$(rwctl rewind "$SID" --verify 2>&1) || { echo "rewind --verify: $human"; return 1; }
	grep -q "^  pid $TPID (pid $SELF in its namespace): " <<<"$human" ||
		{ echo "rewind's output does not name both pids: $human"; return 1; }
	ask check || return 1
	expect "check after the rewind" "$ANSWER" pass
}

ns_report_both_pids() {
	local json human
	start_ns_target || return 1
	own_pid || return 1
	SID=$(in_ns "$CTL" attach --pid "$NSPID" --report 2>&1) || { echo "attach --report: $SID"; return 1; }
	ask go || return 1
	rwctl mark "$SID" >/dev/null || { echo "mark failed"; return 1; }
	json=$(rwctl report "$SID" --json | head -n1)
	[ "$(jq "[.mappings[] | select(.pid == $TPID)] | length" <<<"$json")" -gt 0 ] ||
		{ echo "the report has no mapping of pid $TPID: $json"; return 1; }
	expect "ns_pid of every mapping of pid $TPID" \
		"$(jq -r "[.mappings[] | select(.pid == $TPID) | .ns_pid] | unique | join(\" \")" <<<"$json")" \
		"$SELF" || return 1
	human=$(rwctl report "$SID")
	grep -q "^    pid $TPID (pid $SELF in its namespace)\$" <<<"$human" ||
		{ echo "the report does not name both pids: $human"; return 1; }
}

ns_pidfd_exited() {
	out=$(ns_client exited)
	grep -q '"the process of the pidfd sent has exited"' <<<"$out" || { echo "exited: $out"; return 1; }
}

# Bad fds are refused with a reason, closed, and the daemon keeps serving.
ns_fd_checks() {
	local fds0 fds1
	fds0=$(ls /proc/"$DAEMON_PID"/fd | wc -l)
	out=$(ns_client two_fds)
	grep -q 'more than one fd came with a request' <<<"$out" || { echo "two fds: $out"; return 1; }
	out=$(ns_client not_pidfd)
	grep -q 'the fd sent with the request is not a pidfd' <<<"$out" || { echo "not a pidfd: $out"; return 1; }
	out=$(ns_client unasked)
	grep -q 'an fd came with a request that takes none' <<<"$out" || { echo "unasked fd: $out"; return 1; }
	out=$(ns_client no_fd)
	grep -q 'needs the pidfd sent with the request line' <<<"$out" || { echo "no fd: $out"; return 1; }
	rwctl status >/dev/null || { echo "rewindd stopped serving"; return 1; }
	fds1=$(ls /proc/"$DAEMON_PID"/fd | wc -l)
	expect "rewindd's open fds after the bad requests" "$fds1" "$fds0"
}

# A user namespace run by uid 65534 (its root is host uid 65534): the target
# in it, a socket its group may use.
start_userns_target() {
	local gid
	getent group rwtest >/dev/null || groupadd -r rwtest || return 1
	gid=$(getent group rwtest | cut -d: -f3)
	start_extra_daemon grp --group rwtest || return 1
	chmod 0711 "$TMP"
	AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --groups="$gid")
	coproc TGT { exec "${AS_NOBODY[@]}" unshare --user --map-root-user "$TARGET" counter \
		2>>"$TMP/targets.err"; }
	UPID=$TGT_PID TPID=$TGT_PID
	exec {TIN}>&"${TGT[1]}" {TOUT}<&"${TGT[0]}"
	read -r READY <&"$TOUT" || { echo "target did not start"; return 1; }
	[ "$(awk '$1 == "CapPrm:" { print $2 }' /proc/"$TPID"/status)" != 0000000000000000 ] ||
		{ echo "the namespace's root holds no capabilities"; return 1; }
}

ns_userns_own_process() {
	local id
	start_userns_target || return 1
	# Inside its namespace (its root there), attaching its own process.
	id=$("${AS_NOBODY[@]}" nsenter --target "$TPID" --user --preserve-credentials \
		"$CTL" --socket "$TMP/grp.sock" attach --pid "$TPID" --report 2>&1) ||
		{ echo "container root attaching its own process: $id"; return 1; }
	expect "owner" "$("$CTL" --socket "$TMP/grp.sock" status "$id" --json | jq -r '.sessions[0].owner_uid')" 65534 || return 1
	"$CTL" --socket "$TMP/grp.sock" detach "$id" >/dev/null || return 1
	# From the host as uid 65534: the namespace is its own, so its capabilities there are too.
	id=$("${AS_NOBODY[@]}" "$CTL" --socket "$TMP/grp.sock" attach --pid "$TPID" --report 2>&1) ||
		{ echo "the namespace's owner attaching from outside: $id"; return 1; }
	"$CTL" --socket "$TMP/grp.sock" detach "$id" >/dev/null
}

ns_userns_root_process_refused() {
	start_userns_target || return 1
	# The container's root is uid 65534 on the host: the host's root processes are not its.
	expect_error "permission denied: uid 65534 may not attach to pid $$ \\(owned by uid 0\\)" \
		"${AS_NOBODY[@]}" nsenter --target "$TPID" --user --preserve-credentials \
		"$CTL" --socket "$TMP/grp.sock" attach --pid $$ --report || return 1
	# Another namespace of the same uid holds capabilities the client neither shares nor owns.
	expect_error "in a user namespace the client neither shares nor owns" \
		"${AS_NOBODY[@]}" unshare --user --map-root-user \
		"$CTL" --socket "$TMP/grp.sock" attach --pid "$TPID" --report || return 1
	"$CTL" --socket "$TMP/grp.sock" status >/dev/null || { echo "daemon stopped serving"; return 1; }
}

# The client sees the cgroup2 hierarchy at another path (its own mount
# namespace); what it names there is the host's cgroup.
ns_cgroup_in_client_mount_ns() {
	local cg view json
	cg=$(cgroup2_root)/$CG_NAME-ns
	view=$TMP/cgview
	mkdir -p "$cg" "$view" || return 1
	start_target counter 2>>"$TMP/targets.err" || return 1
	echo "$TPID" >"$cg/cgroup.procs" || return 1
	[ ! -e "$view/$CG_NAME-ns" ] || { echo "the view exists on the host: the test proves nothing"; return 1; }
	SID=$(unshare --mount sh -c 'mount --bind "$1" "$2" && exec "$3" attach --cgroup "$2/$4"' \
		sh "$(cgroup2_root)" "$view" "$CTL" "$CG_NAME-ns" 2>&1) ||
		{ echo "attach --cgroup from another mount namespace: $SID"; return 1; }
	json=$(rwctl status "$SID" --json)
	expect "cgroup" "$(jq -r '.sessions[0].cgroup' <<<"$json")" "$cg" || return 1
	rwctl checkpoint "$SID" >/dev/null || { echo "checkpoint failed"; return 1; }
	ask go || return 1
	out=$(rwctl rewind "$SID" --verify --json 2>&1) || { echo "rewind --verify: $out"; return 1; }
	ask check || return 1
	expect "check after the rewind" "$ANSWER" pass || return 1
	rwctl detach "$SID" >/dev/null
	stop_target
}

# Whatever the test did, its targets are gone before the next (in run_test's subshell).
ns_case() {
	local rc
	"$@"
	rc=$?
	stop_ns_target >/dev/null 2>&1
	return $rc
}

for t in "${TESTS[@]}"; do
	run_test "$t" ns_case "$t"
done
