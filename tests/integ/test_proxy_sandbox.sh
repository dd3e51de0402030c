#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# rewind-proxy's sandbox on a host: each function has its own mount
# namespace with a private /tmp (TMPDIR=/tmp) that is rewound with it, sees
# nothing of the proxy's work area but its own dir, runs with no_new_privs
# and, with --user, as that user. A secret written to /tmp in one
# activation is gone in the next (rewind and fork mode) and never reaches
# the host's /tmp; insecure mode is the twin where it is seen.
cd "$(dirname "$0")/../.." || exit 1
. tests/integ/lib.sh
. tests/integ/proxy_lib.sh

TESTS=(proxy_sandbox_tmp_rewind proxy_sandbox_tmp_insecure proxy_sandbox_tmp_fork proxy_sandbox_tmp_restart
	proxy_sandbox_user_nobody proxy_sandbox_node_rewind proxy_sandbox_node_insecure
	proxy_sandbox_refuses_tmp_paths)
only_tests PROXY_ONLY
proxy_preflight curl jq /usr/bin/python3

# The host's /tmp never holds the function's file, whatever the mode.
host_clean() {
	[ ! -e "/tmp/$NAME" ] && [ ! -e "/tmp/$NAME.tmpdir" ] ||
		{ echo "the function's file reached the host's /tmp: $(ls -l /tmp/"$NAME"*)"; return 1; }
}

# The session watches the function's dir and its /tmp, both named as the
# function sees them: rewindd resolves them in its mount namespace.
watched_as_expected() {
	local watch
	watch=$("$CTL" status --json | jq -c '[.sessions[] | .watch // []] | add')
	expect "watched trees" "$watch" "[\"$WORK/action\",\"/tmp\"]"
}

# tmp_case MODE [PROXY ARGS...]: the first activation writes a secret to
# /tmp and $TMPDIR, in the function's private dir; the second must not find
# it, except in insecure mode, where it must.
tmp_case() {
	local mode=$1 secret first
	shift
	NAME=sandbox-$(random_secret) && secret=secret_$(random_secret) || return 1
	start_proxy --mode "$mode" "$@" || return 1
	init_action "$ACTIONS/sandbox.py" || return 1
	expect_run "{\"name\":\"$NAME\",\"secret\":\"$secret\"}" \
		".seen == null and .seen_tmpdir == null and .tmpdir == \"/tmp\" and .nnp == 1 and
		 .listed == [\"$NAME\", \"$NAME.tmpdir\"]" || return 1
	first=$(jfield .pid)
	host_clean || return 1
	expect_run "{\"name\":\"$NAME\"}" '.pid > 0' || return 1
	host_clean || return 1
	if [ "$mode" = insecure ]; then
		expect "what the next activation finds in /tmp (insecure: the leak this test would catch)" \
			"$(jq -c '[.seen, .seen_tmpdir]' <<<"$BODY")" "[\"$secret\",\"$secret\"]" || return 1
		# The file is in the private dir, on the host side of it.
		expect "the private /tmp on the host" "$(cat "$WORK/tmp/$NAME")" "$secret" || return 1
	else
		expect "what the next activation finds in /tmp" "$(jq -c '[.seen, .seen_tmpdir]' <<<"$BODY")" \
			'[null,null]' || return 1
		[ ! -e "$WORK/tmp/$NAME" ] || { echo "the secret is still in $WORK/tmp"; return 1; }
	fi
	# Rewind and insecure mode serve from one process: no restart hid the leak.
	case $mode in
	rewind) expect "pid after the rewind" "$(jfield .pid)" "$first" || return 1
		watched_as_expected || return 1 ;;
	insecure) expect "pid of the reused process" "$(jfield .pid)" "$first" || return 1 ;;
	esac
	! grep -q "restarting the function" "$PLOG" || { echo "restarted: $(grep -m1 restarting "$PLOG")"; return 1; }
}

test_proxy_sandbox_tmp_rewind() { tmp_case rewind; }
test_proxy_sandbox_tmp_insecure() { tmp_case insecure; }
test_proxy_sandbox_tmp_fork() { tmp_case fork; }
test_proxy_sandbox_tmp_restart() { tmp_case restart; }

# --user nobody: its uid and gid, no other group, no_new_privs, no way into
# the proxy's work area (a file of ours, world-readable on purpose, and the
# host side of its /tmp), its /tmp its own and rewound.
test_proxy_sandbox_user_nobody() {
	local uid gid secret
	uid=$(id -u nobody) && gid=$(id -g nobody) || { echo "no user nobody"; return 77; }
	NAME=sandbox-$(random_secret) && secret=secret_$(random_secret) || return 1
	start_proxy --user nobody || return 1
	echo "the proxy's" >"$WORK/ours" && chmod 0644 "$WORK/ours" || return 1
	expect "the work area's mode" "$(stat -c %a "$WORK")" 700 || return 1
	init_action "$ACTIONS/sandbox.py" || return 1
	expect "owner of the function's dir" "$(stat -c %u:%g "$WORK/action")" "$uid:$gid" || return 1
	expect "owner and mode of its /tmp" "$(stat -c %u:%g:%a "$WORK/tmp")" "$uid:$gid:1777" || return 1
	expect_run "{\"name\":\"$NAME\",\"secret\":\"$secret\",\"probe\":\"$WORK/ours\",\"probe2\":\"$WORK/tmp/$NAME\"}" \
		".uid == $uid and .euid == $uid and .gid == $gid and .groups == [$gid] and .nnp == 1 and
		 (.probe == \"ENOENT\" or .probe == \"EACCES\") and (.probe2 == \"ENOENT\" or .probe2 == \"EACCES\")" ||
		return 1
	[ ! -e "$WORK/tmp/$NAME" ] || { echo "the secret outlived the rewind in $WORK/tmp"; return 1; }
	host_clean || return 1
	expect_run "{\"name\":\"$NAME\"}" '.seen == null and .seen_tmpdir == null' || return 1
	# Not root: the proxy's own files stay out of reach even where it could see them.
	expect_run "{\"name\":\"$NAME\",\"probe\":\"/proc/$PROXY_PID/environ\"}" '.probe == "EACCES"'
}

node_case() {
	local mode=$1 secret want
	[ -x /usr/bin/node ] || { echo "/usr/bin/node is missing"; return 77; }
	NAME=sandbox-$(random_secret) && secret=secret_$(random_secret) || return 1
	start_proxy --runtime node --mode "$mode" --user nobody || return 1
	init_action "$ACTIONS/sandbox.js" || return 1
	expect_run "{\"name\":\"$NAME\",\"secret\":\"$secret\"}" \
		".seen == null and .nnp == 1 and .tmpdir == \"/tmp\" and .uid == $(id -u nobody)" || return 1
	host_clean || return 1
	[ "$mode" = insecure ] && want="\"$secret\"" || want=null
	expect_run "{\"name\":\"$NAME\"}" ".seen == $want" || { echo "(mode $mode)"; return 1; }
	host_clean
}

test_proxy_sandbox_node_rewind() { node_case rewind; }
test_proxy_sandbox_node_insecure() { node_case insecure; }

# A work dir or --watch under /tmp would be hidden by the function's /tmp.
test_proxy_sandbox_refuses_tmp_paths() {
	local out
	out=$(timeout 30 "$PROXY" --port 0 --work-dir "$TMP/work" --rewindd-socket "$SOCK" 2>&1) &&
		{ echo "a work dir under /tmp was accepted"; return 1; }
	[[ $out == *"work dir $TMP/work: must not be under /tmp"* ]] || { echo "work dir: $out"; return 1; }
	out=$(timeout 30 "$PROXY" --port 0 --work-dir "$PROXY_ROOT/w" --watch "$TMP" --rewindd-socket "$SOCK" 2>&1) &&
		{ echo "a --watch under /tmp was accepted"; return 1; }
	[[ $out == *"--watch $TMP: the function cannot see it"* ]] || { echo "--watch: $out"; return 1; }
	mkdir -p "$TMP/launchers" && cp "$SRC_LAUNCHERS/launcher.py" "$TMP/launchers/" || return 1
	out=$(timeout 30 "$PROXY" --port 0 --work-dir "$PROXY_ROOT/w" --launchers "$TMP/launchers" --rewindd-socket "$SOCK" 2>&1) &&
		{ echo "launchers under /tmp were accepted"; return 1; }
	[[ $out == *"launchers in $TMP/launchers: the function cannot see them"* ]] || { echo "launchers: $out"; return 1; }
	# A --user that could not pass through a parent of its dir is told at start.
	mkdir -m 0700 "$PROXY_ROOT/closed" || return 1
	out=$(timeout 30 "$PROXY" --port 0 --work-dir "$PROXY_ROOT/closed/w" --user nobody --rewindd-socket "$SOCK" 2>&1) &&
		{ echo "a work dir nobody cannot reach was accepted"; return 1; }
	[[ $out == *"--user nobody cannot reach the function's dir: $PROXY_ROOT/closed is mode 700"* ]] ||
		{ echo "unreachable: $out"; return 1; }
	out=$("$PROXY" --port 0 --user no-such-user-here 2>&1) && { echo "an unknown user was accepted"; return 1; }
	[[ $out == *"--user: a user name or UID[:GID] known to this system, not no-such-user-here"* ]] ||
		{ echo "--user: $out"; return 1; }
}

proxy_run_tests
