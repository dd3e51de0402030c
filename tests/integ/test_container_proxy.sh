#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# rewind-proxy inside a real container: the action image built by
# user/proxy/image/build.sh (into this script's private podman storage),
# run by podman with runc and the runtime's defaults (its default seccomp
# profile, own pid and mount namespaces, /tmp on the overlay root) with only
# rewindd's socket bind-mounted and --network host. rewindd runs on the host.
# The proxy attaches its function by pidfd, watching its dir and the
# container's /tmp; every rewind is verified.
#
#   ctrproxy_demo_rewind      tests/demo/action.py: the second caller finds
#       nothing of the first (global, file in TMPDIR, environment).
#   ctrproxy_demo_insecure    the twin: it finds all of it.
#   ctrproxy_plant_rewind     tests/proxy/plant.py plants a token in a
#       global, the environment, the container's /tmp, a running thread and
#       a running child; the next /run finds none of them. The function runs
#       under the default profile (Seccomp: 2) with no_new_privs; rewindd
#       watches the function's dir and "/tmp" of its view; the proxy stops
#       cleanly on podman stop and leaves no session.
#   ctrproxy_plant_insecure   the twin: the next /run finds every one.
#   ctrproxy_plant_restart / ctrproxy_plant_fork   the other modes: nothing
#       found either (a fresh process with the container's /tmp emptied; a
#       child per /run whose tree the proxy kills, /tmp restored).
#   ctrproxy_plant_nobody     rewind mode with --user nobody passed to the
#       entrypoint: the function runs as 65534, nothing found after a rewind.
cd "$(dirname "$0")/../.." || exit 1
. tests/integ/container_lib.sh
ctr_private_namespace "$PWD/tests/integ/test_container_proxy.sh" "$@"
. tests/integ/lib.sh
. tests/integ/proxy_lib.sh

TESTS=(ctrproxy_demo_rewind ctrproxy_demo_insecure ctrproxy_plant_rewind ctrproxy_plant_insecure
	ctrproxy_plant_restart ctrproxy_plant_fork ctrproxy_plant_nobody)
require_root "${TESTS[@]}"
skip_all() {
	local t
	for t in "${TESTS[@]}"; do echo "SKIP $t: $1"; done
	exit 0
}
fail_all() {
	local t
	for t in "${TESTS[@]}"; do echo "FAIL $t: $1"; done
	exit 0
}
why=$(ctr_missing)
[ -z "$why" ] || skip_all "$why"
for tool in curl jq /usr/bin/python3; do
	command -v "$tool" >/dev/null || skip_all "$tool is missing"
done
[ -x "$PROXY" ] || fail_all "$PROXY not built (make OUTPUT=$OUTPUT all)"

CP_CTR=
trap 'cproxy_stop >/dev/null 2>&1; ctr_cleanup; cleanup; rm -rf "$PROXY_ROOT"' EXIT
ctr_setup >"$TMP/ctr-setup.out" 2>&1 || fail_all "container setup: $(tail -2 "$TMP/ctr-setup.out" | tr '\n' ' ')"
# Nothing of the test's own under a /tmp a watch could name: its files go to CTR_DIR.
TMP=$CTR_DIR/t
mkdir -p "$TMP"
SOCK=$TMP/rewindd.sock
export REWINDD_SOCKET=$SOCK
IMAGE=localhost/rewind-action-test:python
PODMAN="podman --root $CTR_DIR/storage --runroot $CTR_DIR/run --tmpdir $CTR_DIR/tmp --events-backend none --cgroup-manager cgroupfs --runtime runc" \
	REWIND_PROXY=$PROXY timeout 300 user/proxy/image/build.sh --runtime python --tag "$IMAGE" \
	>"$TMP/build.out" 2>&1 || fail_all "build.sh: $(tail -3 "$TMP/build.out" | tr '\n' ' ')"
start_daemon || fail_all "rewindd did not start"

# cproxy_start [PODMAN OPTIONS...] -- [PROXY OPTIONS...]: the image's
# entrypoint in a new container; returns once it printed its ready line
# (PORT). Its log in PLOG.
cproxy_start() {
	local opts=() line
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	CTR_SEQ=$((CTR_SEQ + 1))
	CP_CTR=rwcp-$$-$CTR_SEQ
	CTR_NAMES+=("$CP_CTR")
	PLOG=$TMP/$CP_CTR.log
	coproc CP {
		exec podman --root "$CTR_DIR/storage" --runroot "$CTR_DIR/run" --tmpdir "$CTR_DIR/tmp" \
			--events-backend none --cgroup-manager cgroupfs --runtime runc \
			run --rm --name "$CP_CTR" --log-driver none --network host \
			--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096 \
			-v "$SOCK:/run/rewindd/rewindd.sock" "${opts[@]}" "$IMAGE" --port 0 --verify "$@" \
			2>"$PLOG"
	}
	CPP=$CP_PID	# bash unsets CP_PID once it reaped the coprocess
	exec {CP_OUT}<&"${CP[0]}"
	# Bounded: the ready line or EOF (the container exited) ends the read first.
	read -t 60 -r line <&"$CP_OUT" || { echo "no ready line: $(tail -3 "$PLOG")"; return 1; }
	case "$line" in
	"rewind-proxy: ready on port "*) PORT=${line#rewind-proxy: ready on port }; PORT=${PORT%% *} ;;
	*) echo "proxy said: $line"; return 1 ;;
	esac
	# The function's stdout and the activation sentinels follow: kept, never left to fill the pipe.
	cat <&"$CP_OUT" >"$TMP/$CP_CTR.out" &
}

# cproxy_stop: podman stop (SIGTERM to the proxy); the proxy must exit 0,
# having detached its session, and no verification may have failed.
cproxy_stop() {
	local rc
	[ -n "$CP_CTR" ] || return 0
	# podman stop sends SIGKILL 30 s after SIGTERM; if it fails, podman run is killed.
	if ! timeout 60 podman --root "$CTR_DIR/storage" --runroot "$CTR_DIR/run" --tmpdir "$CTR_DIR/tmp" \
		--events-backend none --cgroup-manager cgroupfs --runtime runc stop -t 30 "$CP_CTR" \
		>"$TMP/stop.out" 2>&1; then
		kill -KILL "$CPP" 2>/dev/null
		wait "$CPP"
		exec {CP_OUT}<&-
		CP_CTR=
		echo "podman stop failed: $(tail -2 "$TMP/stop.out" | tr '\n' ' ')"
		return 1
	fi
	wait "$CPP"
	rc=$?
	exec {CP_OUT}<&-
	CP_CTR=
	[ $rc = 0 ] || { echo "the container exited $rc: $(tail -4 "$PLOG" | tr '\n' ' ')"; return 1; }
	! grep -q "verification found" "$PLOG" ||
		{ echo "a rewind did not verify: $(grep -m1 "verification found" "$PLOG")"; return 1; }
	expect "rewindd sessions left after the proxy stopped" \
		"$("$CTL" status --json | jq '.sessions | length')" 0
}

# Whatever the case did, its container is stopped; a case that passed must also stop cleanly.
ctr_case() {
	local name=$1 out rc
	shift
	# In this shell (not a $(...) subshell): the container it starts is stopped here.
	"$@" >"$TMP/case.out" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		cproxy_stop >"$TMP/case.out" 2>&1 || rc=1
	else
		cproxy_stop >/dev/null 2>&1
	fi
	out=$(cat "$TMP/case.out")
	if [ $rc = 0 ]; then
		echo "PASS $name"
	else
		echo "FAIL $name: $(printf '%s' "$out" | tail -4 | tr '\n' ' ')"
	fi
}

demo_case() {
	local mode=$1 s1 s2 want
	s1=alice_$(random_secret) && s2=bob_$(random_secret) || return 1
	cproxy_start -- --mode "$mode" || return 1
	init_action tests/demo/action.py || return 1
	expect_run "{\"name\":\"alice\",\"secret\":\"$s1\"}" \
		'.left_over_from_before == {"global":null,"file":null,"env":null}' || return 1
	run "{\"name\":\"bob\",\"secret\":\"$s2\"}" || return 1
	want='{"global":null,"file":null,"env":null}'
	[ "$mode" = insecure ] && want="{\"global\":\"$s1\",\"file\":\"$s1\",\"env\":\"$s1\"}"
	expect "what bob finds of alice ($mode mode)" "$CODE $(jq -c .left_over_from_before <<<"$BODY")" "200 $want"
}

# plant_case MODE UID [PROXY OPTIONS...]
plant_case() {
	local mode=$1 uid=$2 tok found want watch
	shift 2
	tok=tok_$(random_secret) || return 1
	cproxy_start "${CP_OPTS[@]}" -- --mode "$mode" "$@" || return 1
	init_action "$ACTIONS/plant.py" || return 1
	# The runtime's default profile is on the function (2: SECCOMP_MODE_FILTER).
	expect_run "{\"plant\":\"$tok\",\"probe\":\"$tok\"}" \
		".seccomp == 2 and .nnp == 1 and .uid == $uid and ([.global, .env, .tmp, .thread, .child] | any | not)" ||
		return 1
	if [ "$mode" = rewind ]; then
		watch=$("$CTL" status --json | jq -c '[.sessions[] | .watch // []] | add')
		expect "trees rewindd watches (as the function sees them)" "$watch" \
			"[\"/var/lib/rewind-proxy/$PORT/action\",\"/tmp\"]" || return 1
	fi
	run "{\"probe\":\"$tok\"}" || return 1
	found=$(jq -c '{global, env, tmp, thread, child}' <<<"$BODY")
	want='{"global":false,"env":false,"tmp":false,"thread":false,"child":false}'
	[ "$mode" = insecure ] && want='{"global":true,"env":true,"tmp":true,"thread":true,"child":true}'
	expect "what the next /run finds of the token ($mode mode)" "$CODE $found" "200 $want"
}

CP_OPTS=()
ctr_case ctrproxy_demo_rewind demo_case rewind
ctr_case ctrproxy_demo_insecure demo_case insecure
ctr_case ctrproxy_plant_rewind plant_case rewind 0
ctr_case ctrproxy_plant_insecure plant_case insecure 0
ctr_case ctrproxy_plant_restart plant_case restart 0
ctr_case ctrproxy_plant_fork plant_case fork 0
# Root in the container may ptrace (and so attach) a process of another
# uid only with CAP_SYS_PTRACE, which the default capability set lacks.
CP_OPTS=(--cap-add SYS_PTRACE)
ctr_case ctrproxy_plant_nobody plant_case rewind 65534 --user nobody
