#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Functions in real containers: podman with runc and the runtime's defaults
# (its default seccomp profile, own pid and mount namespaces, /tmp on the
# container's overlay root), as root and as nobody (--user 65534:65534),
# in Python and Node (tests/integ/ctr). rewindctl attaches from the host by
# the container's host pid (the function is the container's command) with
# --watch /tmp, which names the container's /tmp.
#
#   ctr_LANG_USER_rewind    checkpoint, an invocation plants a token in a
#       global, the environment, /tmp/fn-secret, a running thread and a
#       running child; rewind --verify; the next invocation sees none of
#       them (memory/env/threads/children on one line, /tmp on its own:
#       ctr_LANG_USER_rewind_tmp).
#   ctr_LANG_USER_norewind  the twin: no rewind, the next invocation sees
#       every one of them (so the test above can fail).
#   ctr_seccomp_*           the target really runs under a filter; a custom
#       profile that kills the process on userfaultfd does kill it, and a
#       function under it survives checkpoint + rewind --verify.
#   ctr_killed / ctr_exited / ctr_checkpoint_dead
#                           a container killed, or a function that exited,
#       fails its session closed (an error naming the gone pid); another
#       session keeps being served.
cd "$(dirname "$0")/../.."
. tests/integ/container_lib.sh
ctr_private_namespace "$PWD/tests/integ/test_containers.sh" "$@"
. tests/integ/lib.sh

LANGS=(py js)
USERS=(root nobody)
TESTS=()
for l in "${LANGS[@]}"; do
	for u in "${USERS[@]}"; do
		TESTS+=("ctr_${l}_${u}_rewind" "ctr_${l}_${u}_rewind_tmp" "ctr_${l}_${u}_norewind")
	done
done
TESTS+=(ctr_seccomp_default ctr_seccomp_kill_userfaultfd ctr_killed ctr_exited ctr_checkpoint_dead)

require_root "${TESTS[@]}"
why=$(ctr_missing)
if [ -n "$why" ]; then
	for t in "${TESTS[@]}"; do echo "SKIP $t: $why"; done
	exit 0
fi
trap 'ctr_cleanup; cleanup' EXIT
if ! ctr_setup >"$TMP/ctr-setup.out" 2>&1; then
	for t in "${TESTS[@]}"; do echo "FAIL $t: container setup: $(tail -2 "$TMP/ctr-setup.out" | tr '\n' ' ')"; done
	exit 0
fi
# Under a watched /tmp (this namespace's, if a watch were resolved on the
# host's side) nothing of the test's own may change: its files go to CTR_DIR.
TMP=$CTR_DIR/t
mkdir -p "$TMP"
SOCK=$TMP/rewindd.sock
export REWINDD_SOCKET=$SOCK
start_daemon || { for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done; exit 0; }

FN_DIR=$PWD/tests/integ/ctr

# fn_argv LANG: the container's command.
fn_argv() {
	case $1 in
	py) FN_ARGV=(/usr/bin/python3 -I /fn/fn.py) ;;
	js) FN_ARGV=(/usr/bin/node /fn/fn.js) ;;
	esac
}

# user_opts USER: podman options for the container's user.
user_opts() {
	case $1 in
	root) USER_OPTS=() ;;
	nobody) USER_OPTS=(--user 65534:65534) ;;
	esac
}

# start_ctr LANG USER [PODMAN OPTIONS...]: the function in a new container.
start_ctr() {
	local lang=$1 user=$2
	shift 2
	fn_argv "$lang"
	user_opts "$user"
	podman_run -v "$FN_DIR:/fn:ro" "${USER_OPTS[@]}" "$@" -- "${FN_ARGV[@]}" || return 1
	READY_THREADS=$(sed -n 's/.*threads=\([0-9]*\).*/\1/p' <<<"$READY")
	READY_CHILDREN=$(sed -n 's/.*children=\([0-9]*\).*/\1/p' <<<"$READY")
}

# field NAME: a field of the last probe answer.
field() {
	sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" <<<"$ANSWER"
}

# ctr_attach_checkpoint: attach by the container's host pid, its /tmp
# watched; checkpoint. Session id in SID.
ctr_attach_checkpoint() {
	SID=$(timeout 120 "$CTL" attach --pid "$HPID" --watch /tmp 2>"$TMP/attach.err") ||
		{ echo "attach --pid $HPID --watch /tmp failed: $(cat "$TMP/attach.err")"; return 1; }
	timeout 120 "$CTL" checkpoint "$SID" >"$TMP/checkpoint.out" 2>&1 ||
		{ echo "checkpoint failed: $(tail -3 "$TMP/checkpoint.out")"; return 1; }
}

# plant_and_see TOKEN: one invocation plants TOKEN; it sees all of it.
plant_and_see() {
	fn_ask "plant $1" || return 1
	expect "plant" "$ANSWER" planted || return 1
	fn_ask "probe $1" || return 1
	expect "the planting invocation's view" \
		"$(field global) $(field env) $(field tmp) $(($(field threads) > READY_THREADS)) $(($(field children) > READY_CHILDREN))" \
		"1 1 1 1 1" || { echo "probe: $ANSWER"; return 1; }
}

# The rewind scenario runs once per LANG/USER and records both verdicts;
# the _rewind and _rewind_tmp tests read them.
declare -A VERDICT
rewind_case() {
	local lang=$1 user=$2 tok out
	tok=tok$RANDOM$RANDOM$RANDOM
	start_ctr "$lang" "$user" || return 1
	ctr_attach_checkpoint || return 1
	plant_and_see "$tok" || return 1
	timeout 120 "$CTL" rewind "$SID" --verify >"$TMP/rewind.out" 2>&1 ||
		{ echo "rewind --verify failed: $(tail -3 "$TMP/rewind.out")"; return 1; }
	fn_ask "probe $tok" || return 1
	out="global=$(field global) env=$(field env) threads=$(field threads) children=$(field children)"
	expect "after rewind --verify ($ANSWER)" "$out" \
		"global=0 env=0 threads=$READY_THREADS children=$READY_CHILDREN" >"$TMP/verdict.mem" || true
	expect "/tmp/fn-secret in the container after rewind --verify" "tmp=$(field tmp)" "tmp=0" \
		>"$TMP/verdict.tmp" || true
	# A second invocation after the rewind still works (the function is live).
	fn_ask "probe $tok" || return 1
	"$CTL" detach "$SID" >/dev/null
}

run_rewind_pair() {
	local lang=$1 user=$2 out rc
	rm -f "$TMP"/verdict.*
	out=$(rewind_case "$lang" "$user" 2>&1; rc=$?; ctr_stop >/dev/null 2>&1; exit $rc)
	rc=$?
	for f in "$TMP"/*.extra.pid; do [ -f "$f" ] && kill_and_wait "$(cat "$f")" && rm -f "$f"; done
	for id in $("$CTL" status --json 2>/dev/null | jq -r '.sessions[].session'); do
		"$CTL" detach "$id" >/dev/null 2>&1
	done
	if [ $rc != 0 ]; then
		for t in rewind rewind_tmp; do
			echo "FAIL ctr_${lang}_${user}_$t: $(printf '%s' "$out" | tail -5 | tr '\n' ' ')"
		done
		return
	fi
	if [ -s "$TMP/verdict.mem" ]; then
		echo "FAIL ctr_${lang}_${user}_rewind: $(tr '\n' ' ' <"$TMP/verdict.mem")"
	else
		echo "PASS ctr_${lang}_${user}_rewind"
	fi
	if [ -s "$TMP/verdict.tmp" ]; then
		echo "FAIL ctr_${lang}_${user}_rewind_tmp: $(tr '\n' ' ' <"$TMP/verdict.tmp")"
	else
		echo "PASS ctr_${lang}_${user}_rewind_tmp"
	fi
}

# The twin: checkpointed the same way, but no rewind: everything leaks.
norewind_case() {
	local lang=$1 user=$2 tok
	tok=tok$RANDOM$RANDOM$RANDOM
	start_ctr "$lang" "$user" || return 1
	ctr_attach_checkpoint || return 1
	plant_and_see "$tok" || return 1
	fn_ask "probe $tok" || return 1
	expect "the next invocation without a rewind ($ANSWER)" \
		"$(field global) $(field env) $(field tmp) $(($(field threads) > READY_THREADS)) $(($(field children) > READY_CHILDREN))" \
		"1 1 1 1 1" || return 1
	expect "uid in the container" "$(field uid)" "$([ "$user" = root ] && echo 0 || echo 65534)"
}

ctr_seccomp_default() {
	start_ctr py root || return 1
	fn_ask "probe x" || return 1
	# 2: SECCOMP_MODE_FILTER, the runtime's default profile.
	expect "Seccomp: of the function in its container" "$(field seccomp)" 2 || return 1
	expect "Seccomp: in the host's /proc" "$(awk '$1 == "Seccomp:" { print $2 }' /proc/"$HPID"/status)" 2
}

# A profile that allows everything but kills the process on userfaultfd:
# the syscall rewindd's write protection needs, made in the target.
kill_uffd_profile() {
	cat >"$TMP/kill-uffd.json" <<-'EOF'
	{ "defaultAction": "SCMP_ACT_ALLOW",
	  "architectures": ["SCMP_ARCH_X86_64"],
	  "syscalls": [ { "names": ["userfaultfd"], "action": "SCMP_ACT_KILL_PROCESS" } ] }
	EOF
}

ctr_seccomp_kill_userfaultfd() {
	local tok rc
	kill_uffd_profile
	# The profile is in force: userfaultfd() kills a process under it (SIGSYS).
	podman_cmd run --rm --log-driver none --network none \
		--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096 \
		--security-opt seccomp="$TMP/kill-uffd.json" -v /usr:/usr:ro --rootfs "$CTR_DIR/rootfs:O" \
		/usr/bin/python3 -I -c 'import ctypes; ctypes.CDLL(None).syscall(323, 0); print("survived")' \
		>"$TMP/uffd.out" 2>&1
	rc=$?
	expect "exit of a container calling userfaultfd under the profile ($(head -c 200 "$TMP/uffd.out"))" \
		"$rc" 159 || return 1
	tok=tok$RANDOM$RANDOM
	start_ctr py nobody --security-opt seccomp="$TMP/kill-uffd.json" || return 1
	expect "Seccomp: of the target" "$(awk '$1 == "Seccomp:" { print $2 }' /proc/"$HPID"/status)" 2 || return 1
	ctr_attach_checkpoint || return 1
	plant_and_see "$tok" || return 1
	timeout 120 "$CTL" rewind "$SID" --verify >"$TMP/rewind.out" 2>&1 ||
		{ echo "rewind --verify failed: $(tail -3 "$TMP/rewind.out")"; return 1; }
	fn_ask "probe $tok" || return 1
	expect "after rewind --verify ($ANSWER)" "$(field global) $(field env) $(field threads)" \
		"0 0 $READY_THREADS" || return 1
	expect "the function's pid after the rewind" "$(ctr_pid "$CTR")" "$HPID"
}

# other_session: a second container, attached and checkpointed, that must
# keep being served while the first fails. Its state in O_*.
other_session() {
	start_ctr py root || return 1
	ctr_attach_checkpoint || return 1
	O_CTR=$CTR O_FPID=$FPID O_FIN=$FIN O_FOUT=$FOUT O_SID=$SID
	CTR= FPID= FIN= FOUT=
}

other_still_served() {
	local tok=tok$RANDOM
	CTR=$O_CTR FPID=$O_FPID FIN=$O_FIN FOUT=$O_FOUT SID=$O_SID
	fn_ask "plant $tok" || return 1
	timeout 120 "$CTL" rewind "$SID" --verify >"$TMP/rewind.out" 2>&1 ||
		{ echo "the other session's rewind --verify failed: $(tail -3 "$TMP/rewind.out")"; return 1; }
	fn_ask "probe $tok" || return 1
	expect "the other session after its rewind ($ANSWER)" "$(field global) $(field env)" "0 0"
}

# expect_gone DESCRIPTION PID CMD...: CMD fails (exit 1) naming PID.
expect_gone() {
	local what=$1 pid=$2 out rc
	shift 2
	out=$(timeout 120 "$@" 2>&1)
	rc=$?
	[ $rc = 1 ] || { echo "$what: '$*' exited $rc, want 1: $out"; return 1; }
	grep -Eq "\\b$pid\\b" <<<"$out" || { echo "$what: '$*' said '$out', which does not name pid $pid"; return 1; }
}

ctr_killed() {
	local o_ctr pid
	other_session || return 1
	o_ctr=$O_CTR
	start_ctr js root || return 1
	ctr_attach_checkpoint || return 1
	pid=$HPID
	fn_ask "plant tok$RANDOM" || return 1
	podman_cmd kill "$CTR" >/dev/null || return 1
	# EOF on its stdout: the container is gone.
	while read -r _ <&"$FOUT"; do :; done
	expect_gone "rewind after podman kill" "$pid" "$CTL" rewind "$SID" --verify || return 1
	expect_gone "a second rewind" "$pid" "$CTL" rewind "$SID" --verify || return 1
	ctr_stop
	other_still_served || return 1
	CTR=$o_ctr
}

ctr_exited() {
	local pid
	other_session || return 1
	start_ctr py nobody || return 1
	ctr_attach_checkpoint || return 1
	pid=$HPID
	echo exit >&"$FIN"
	while read -r _ <&"$FOUT"; do :; done
	expect_gone "rewind after the function exited" "$pid" "$CTL" rewind "$SID" --verify || return 1
	ctr_stop
	other_still_served
}

ctr_checkpoint_dead() {
	local pid
	other_session || return 1
	start_ctr py root || return 1
	SID=$(timeout 120 "$CTL" attach --pid "$HPID" --watch /tmp) || return 1
	pid=$HPID
	podman_cmd rm -f -t 0 "$CTR" >/dev/null || return 1
	while read -r _ <&"$FOUT"; do :; done
	expect_gone "checkpoint of a removed container" "$pid" "$CTL" checkpoint "$SID" || return 1
	ctr_stop
	other_still_served
}

# ctr_test NAME FUNCTION ARGS...: run_test, with every container it started
# removed afterwards.
ctr_test() {
	local name=$1
	shift
	run_test "$name" ctr_case "$@"
}

ctr_case() {
	local rc
	"$@"
	rc=$?
	ctr_stop >/dev/null 2>&1
	[ -n "${O_CTR:-}" ] && podman_cmd rm -f -t 0 "$O_CTR" >/dev/null 2>&1
	return $rc
}

for l in "${LANGS[@]}"; do
	for u in "${USERS[@]}"; do
		run_rewind_pair "$l" "$u"
		ctr_test "ctr_${l}_${u}_norewind" norewind_case "$l" "$u"
	done
done
ctr_test ctr_seccomp_default ctr_seccomp_default
ctr_test ctr_seccomp_kill_userfaultfd ctr_seccomp_kill_userfaultfd
ctr_test ctr_killed ctr_killed
ctr_test ctr_exited ctr_exited
ctr_test ctr_checkpoint_dead ctr_checkpoint_dead
