# SPDX-License-Identifier: GPL-2.0-only
# Helpers for the integration scripts: a private rewindd, target programs
# driven over pipes (never sleeps), and PASS/FAIL/SKIP lines for tests/run.sh.

OUTPUT=${OUTPUT:-build}
RWD=$PWD/$OUTPUT/rewindd
CTL=$PWD/$OUTPUT/rewindctl
TARGET=$PWD/$OUTPUT/tests/integ/target
TMP=$(mktemp -d /tmp/rewindd-test.XXXXXX)
SOCK=$TMP/rewindd.sock
export REWINDD_SOCKET=$SOCK
DAEMON_PID=
# Writing "exit" to a target that already died must not kill the test shell.
trap "" PIPE
# Test cgroups are named after the script's shell ($$ is the same in subshells).
CG_NAME=rewindd-test-$$

cleanup() {
	stop_daemon
	# A leak report is written as rewindd exits: after the last test.
	daemon_trouble | sed "s/^/FAIL rewindd_at_exit_$(basename "$0" .sh): /"
	local cg
	cg=$(cgroup2_root)/$CG_NAME
	if [ -d "$cg" ]; then
		echo 1 >"$cg/cgroup.kill" 2>/dev/null
		rmdir "$cg" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# Service mode returns only once the socket serves: no polling needed.
# remove_cgroup DIR: kills what runs in the cgroup DIR, waits for it (no sleep loop), removes it.
remove_cgroup() {
	local cg=$1 p
	[ -d "$cg" ] || return 0
	echo 1 >"$cg/cgroup.kill" 2>/dev/null
	for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do
		tail --pid="$p" -f /dev/null
	done
	rmdir "$cg" 2>/dev/null
}

start_daemon() {
	"$RWD" --socket "$SOCK" --pidfile "$TMP/rewindd.pid" --log-file "$TMP/rewindd.log" "$@" || return 1
	DAEMON_PID=$(cat "$TMP/rewindd.pid")
}

# Sanitizer reports in the daemons' logs since the last call, and a main
# daemon that is gone: one line each (nothing when all is well).
declare -A LOG_SEEN=()
daemon_trouble() {
	local f size from
	for f in "$TMP"/*.log; do
		[ -f "$f" ] || continue
		size=$(stat -c %s "$f")
		from=${LOG_SEEN[$f]:-0}
		LOG_SEEN[$f]=$size
		[ "$size" -gt "$from" ] || continue
		tail -c +"$((from + 1))" "$f" | head -c "$((size - from))" |
			grep -m1 -A6 -E 'runtime error:|ERROR: (Address|Leak)Sanitizer' | tr '\n' ' ' |
			sed "s|^|sanitizer report in $(basename "$f"): |;s|\$|\n|"
	done
	# A test (in a subshell) that restarted the main daemon: the new one wrote the pidfile.
	[ -n "$DAEMON_PID" ] && [ -s "$TMP/rewindd.pid" ] && DAEMON_PID=$(cat "$TMP/rewindd.pid")
	if [ -n "$DAEMON_PID" ] && ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		echo "rewindd $DAEMON_PID is gone; its log ends: $(tail -3 "$TMP/rewindd.log" 2>/dev/null | tr '\n' ' ')"
		DAEMON_PID=
	fi
}

kill_and_wait() {
	kill "$1" 2>/dev/null
	# Blocks until the process is gone (no sleep loop).
	tail --pid="$1" -f /dev/null
}

stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill_and_wait "$DAEMON_PID"
	DAEMON_PID=
}

# A second daemon with its own options for one test: start_extra_daemon NAME ARGS...
# Its socket is $TMP/NAME.sock; run_test stops it when the test ends.
start_extra_daemon() {
	local name=$1
	shift
	"$RWD" --socket "$TMP/$name.sock" --pidfile "$TMP/$name.extra.pid" --log-file "$TMP/$name.log" "$@"
}

# request_line SOCKET JSON: one request as rewindctl would never send it (a key
# or instance of the test's choosing), the answer line printed.
request_line() {
	/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().readline().strip())' "$1" "$2"
}

# start_target SCENARIO [ARGS]: runs the target as a coprocess, reads its ready line.
start_target() {
	coproc TGT { exec "$TARGET" "$@"; }
	TPID=$TGT_PID
	exec {TIN}>&"${TGT[1]}" {TOUT}<&"${TGT[0]}"
	read -r READY <&"$TOUT" || return 1
	case "$READY" in ready*) ;; *) echo "target said: $READY"; return 1 ;; esac
}

# One invocation: "go", then wait for "done ...".
invoke() {
	echo go >&"$TIN"
	read -r DONE <&"$TOUT" || return 1
	case "$DONE" in done*) ;; *) echo "target said: $DONE"; return 1 ;; esac
}

stop_target() {
	[ -n "${TPID:-}" ] || return 0
	echo exit >&"$TIN" 2>/dev/null
	exec {TIN}>&- {TOUT}<&-
	wait "$TPID" 2>/dev/null
	TPID=
}

# The cgroup v2 mount (here /sys/fs/cgroup/unified, elsewhere /sys/fs/cgroup).
cgroup2_root() {
	awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts
}

# run_test NAME FUNCTION: FUNCTION returns 0 to pass; its output explains a failure.
run_test() {
	local name=$1 out rc trouble
	shift
	out=$("$@" 2>&1; rc=$?; stop_target >/dev/null 2>&1; exit $rc)
	rc=$?
	for f in "$TMP"/*.extra.pid; do
		[ -f "$f" ] && kill_and_wait "$(cat "$f")" && rm -f "$f"
	done
	# A daemon that died or reported undefined behaviour fails the test it ran.
	daemon_trouble >"$TMP/trouble.txt"	# not in a subshell: it notes what it saw
	trouble=$(cat "$TMP/trouble.txt")
	if [ -n "$trouble" ]; then
		[ $rc = 0 ] && out=
		rc=1
		out="$out $trouble"
	fi
	# A failed test may leave sessions behind: the next test starts clean.
	if [ -n "$DAEMON_PID" ]; then
		for id in $("$CTL" status --json 2>/dev/null | jq -r '.sessions[].session'); do
			"$CTL" detach "$id" >/dev/null 2>&1
		done
	fi
	if [ $rc = 0 ]; then
		echo "PASS $name"
	elif [ $rc = 77 ]; then
		echo "SKIP $name: $out"
	else
		echo "FAIL $name: $(printf '%s' "$out" | tail -5 | tr '\n' ' ')"
	fi
}

# expect DESCRIPTION ACTUAL WANTED
expect() {
	if [ "$2" != "$3" ]; then
		echo "$1: got '$2', want '$3'"
		return 1
	fi
}

# The report of invocation N as one JSON object.
report_of() {
	"$CTL" report "$1" --json | jq -c "select(.invocation == $2)"
}

# Fail every test of a script up front when it cannot run at all.
# only_tests VAR [ARRAY...]: keep the names in each ARRAY (default TESTS)
# that match the regex in $VAR, when it is set (while debugging one).
only_tests() {
	local re=${!1:-} name t kept
	[ -n "$re" ] || return 0
	shift
	for name in "${@:-TESTS}"; do
		local -n list=$name
		kept=()
		for t in "${list[@]}"; do [[ $t =~ $re ]] && kept+=("$t"); done
		list=("${kept[@]}")
		unset -n list
	done
}

# expect_error REGEX CMD...: CMD must exit 1 and say something matching REGEX.
expect_error() {
	local re=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ $rc = 1 ] || { echo "'$*' exited $rc, want 1: $out"; return 1; }
	grep -Eq "$re" <<<"$out" || { echo "'$*' said '$out', want /$re/"; return 1; }
}

# rewindctl, bounded: a hung daemon fails the test instead of the run.
rwctl() {
	timeout 120 "$CTL" "$@"
}

# ask LINE: one request to the coprocess on TIN/TOUT, its answer in ANSWER.
ask() {
	echo "$1" >&"$TIN" || { echo "target gone before '$1'"; return 1; }
	read -r -t 60 ANSWER <&"$TOUT" || { echo "no answer to '$1' (target dead or stuck)"; return 1; }
}

# snap DIR: the tree as an auditor would describe it. Directory sizes are left
# out (ext4 never shrinks a directory), so are ctimes (nobody can set them).
snap() {
	(
		cd "$1" || exit 1
		find . -mindepth 1 ! -type d -printf '%P %y %m %U %G %s %n %T@ %l\n' | LC_ALL=C sort
		find . -type d -printf '%P/ %m %U %G %T@\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
		getfattr -R -h -d -m - . 2>/dev/null
	)
}

require_root() {
	if [ "$(id -u)" != 0 ]; then
		for t in "$@"; do echo "SKIP $t: needs root (BPF, ptrace)"; done
		exit 0
	fi
}

# leak scenarios
# Functions under test (tests/leak) speak lines: "ready", then one answer
# per request. start_fn COMMAND [ARGS...] runs any such program as the
# coprocess FN: pid FPID, its stdin FIN, its stdout FOUT, first line READY.
start_fn() {
	coproc FN { exec "$@"; }
	FPID=$FN_PID
	exec {FIN}>&"${FN[1]}" {FOUT}<&"${FN[0]}"
	read -r READY <&"$FOUT" || { echo "function exited before ready: $*"; return 1; }
	case "$READY" in ready*) ;; *) echo "function said: $READY"; return 1 ;; esac
}

# fn_ask LINE: one request, its one-line answer in ANSWER. The bound only
# keeps a function left stopped (a rewind bug) from hanging the suite.
fn_ask() {
	echo "$1" >&"$FIN" || { echo "function gone before: $1"; return 1; }
	read -t 120 -r ANSWER <&"$FOUT" || { echo "function gone or stuck (no answer in 120 s) to: $1"; return 1; }
}

# fn_attach_checkpoint: attach rewindd to the function (FPID) and checkpoint
# it; its session id in SID. 77 (skip) without root.
fn_attach_checkpoint() {
	[ "$(id -u)" = 0 ] || { echo "needs root (BPF, ptrace)"; return 77; }
	[ -n "$DAEMON_PID" ] || { echo "rewindd did not start"; return 1; }
	SID=$(timeout 300 "$CTL" attach --pid "$FPID" 2>"$TMP/attach.err") ||
		{ echo "attach --pid $FPID failed: $(cat "$TMP/attach.err")"; return 1; }
	timeout 300 "$CTL" checkpoint "$SID" >"$TMP/checkpoint.out" 2>&1 ||
		{ echo "checkpoint failed: $(tail -3 "$TMP/checkpoint.out")"; return 1; }
}

# fn_rewind_verify WHAT: rewind SID, verified byte for byte; WHAT names the
# invocation in the message.
fn_rewind_verify() {
	timeout 300 "$CTL" rewind "$SID" --verify >"$TMP/rewind.out" 2>&1 ||
		{ echo "$1: rewind --verify failed: $(tail -3 "$TMP/rewind.out")"; return 1; }
}

# fn_case TEST [ARGS...]: whatever the test did, the function and what it
# left running are gone before the next test.
fn_case() {
	local rc
	"$@"
	rc=$?
	stop_fn >/dev/null 2>&1
	return $rc
}

# stop_fn: "exit", then the end of its stdout says it is gone (bounded: a
# rewind bug may leave it stopped), then kill what it left running.
stop_fn() {
	[ -n "${FPID:-}" ] || return 0
	local kids k line rc
	kids=$(cat /proc/"$FPID"/task/*/children 2>/dev/null)
	echo exit >&"$FIN" 2>/dev/null
	exec {FIN}>&-
	while :; do
		read -t 30 -r line <&"$FOUT"
		rc=$?
		[ $rc = 0 ] || break
	done
	[ $rc -gt 128 ] && kill -KILL "$FPID" 2>/dev/null
	exec {FOUT}<&-
	wait "$FPID" 2>/dev/null
	for k in $kids; do kill -KILL "$k" 2>/dev/null; done
	FPID=
}

# random_secret: 32 random letters from g-z and G-Z (never a hex digit,
# never NUL), printed as 64 hex digits: the form the functions take.
random_secret() {
	local s
	s=$(head -c 4096 /dev/urandom | LC_ALL=C tr -dc 'g-zG-Z' | head -c 32)
	[ ${#s} = 32 ] || return 1
	printf %s "$s" | od -An -tx1 -v | tr -d ' \n'
}
