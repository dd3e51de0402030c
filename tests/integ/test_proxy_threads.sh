#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A checkpoint right after a Python thread pool was joined (tests/proxy/threadpool.py):
# Thread.join() returns before the OS thread has exited, so unless the
# launcher's settle waits the threads out, the checkpoint can hold a thread
# that exits during the next activation; its rewind recreates it (it used
# to fail, "existed at the checkpoint and has exited", and the proxy
# restarted the function). Each test asserts that no rewind failed, one
# with the launcher's wait taken out. Every rewind runs --verify.
cd "$(dirname "$0")/../.." || exit 1
. tests/integ/lib.sh
. tests/integ/proxy_lib.sh
# Pool threads' OS exit lags their join by this long: the window is always open.
LAG_US=200000
CYCLES=${THREAD_CYCLES:-20}

TESTS=(proxy_threads_lagging_exit proxy_threads_lagging_exit_unsettled proxy_threads_pool_cycles)
EXTRA_TESTS=(launcher_threads_outlive_join launcher_settle_waits_threads launcher_settle_timeout_names_thread)
proxy_preflight curl jq /usr/bin/python3
/usr/bin/python3 -c 'import os, sys; os.close(os.pidfd_open(os.getpid(), os.O_EXCL))' 2>/dev/null ||
	skip_all "no PIDFD_THREAD (Linux < 6.9)"

# How many rewinds failed (each made the proxy restart the function).
rewind_failures() {
	grep -c "rewind of session [0-9]* failed: .*; restarting the function" "$PLOG"
}

# threadpool.py whose pool threads' OS exit lags their join by LAG_US.
lagging_action() {
	sed "s/^LAG_US = 0\$/LAG_US = $LAG_US/" "$ACTIONS/threadpool.py" >"$TMP/lagging.py"
	grep -q "^LAG_US = $LAG_US\$" "$TMP/lagging.py" || { echo "threadpool.py has no LAG_US = 0 line"; return 1; }
}

# serve_pool: the pool joined at load and in the warm-up, then the
# checkpoint; three activations must be served by that same process.
serve_pool() {
	start_proxy --warmup 1 || return 1
	init_action "$TMP/lagging.py" || return 1
	serve_pool_runs
}

serve_pool_runs() {
	local pid
	expect_run '{}' '.total > 0 and .loaded > 0' || return 1
	pid=$(jq -r .pid <<<"$BODY")
	expect_run '{}' ".pid == $pid" || return 1
	expect_run '{}' ".pid == $pid"
}

# ---- tests ----------------------------------------------------------------------

test_proxy_threads_lagging_exit() {
	lagging_action || return 1
	serve_pool || { echo "$(rewind_failures) rewind(s) failed: $(grep -m1 'rewind of session' "$PLOG")"; return 1; }
	expect "failed rewinds" "$(rewind_failures)" 0
}

# The launcher without the wait in settle: the checkpoint holds the lagging
# threads, which exit during an activation. That rewind used to fail (the
# proxy restarted the function); rewindd now recreates them: no rewind
# fails and the same process serves every activation.
test_proxy_threads_lagging_exit_unsettled() {
	local dir=$PROXY_ROOT/unsettled	# launchers outside the function's private /tmp
	lagging_action || return 1
	mkdir -p "$dir"
	sed 's/^\( *why = \)await_thread_exits()$/\1None/' "$SRC_LAUNCHERS/launcher.py" >"$dir/launcher.py"
	! cmp -s "$SRC_LAUNCHERS/launcher.py" "$dir/launcher.py" || { echo "no await_thread_exits() in settle"; return 1; }
	start_proxy --warmup 1 --launchers "$dir" || return 1
	init_action "$TMP/lagging.py" || return 1
	serve_pool_runs || { echo "$(rewind_failures) rewind(s) failed: $(grep -m1 'rewind of session' "$PLOG")"; return 1; }
	expect "failed rewinds" "$(rewind_failures)" 0
}

# The race as it is, without the lag: CYCLES times a crash makes the proxy
# start the function afresh (pool at load and in the warm-up, settle,
# checkpoint), and the next activation's rewind must not fail. Unlike the
# lagging pool, this one rarely fails without the launcher's wait (the
# full collection in settle gives the threads time): a guard, not the proof.
test_proxy_threads_pool_cycles() {
	local i
	cp "$ACTIONS/threadpool.py" "$TMP/lagging.py"
	start_proxy --warmup 1 || return 1
	init_action "$TMP/lagging.py" || return 1
	for i in $(seq "$CYCLES"); do
		expect_run '{}' '.total > 0' || return 1
		post /run '{"value":{"exit":true}}' || return 1
		expect "cycle $i: crash (actionloop: command exited)" "$CODE" 400 || return 1
	done
	expect_run '{}' '.total > 0' || return 1
	expect "failed rewinds in $CYCLES cycles" "$(rewind_failures)" 0 ||
		{ grep -m1 "rewind of session" "$PLOG"; return 1; }
}

proxy_daemon_or_fail
# The launcher's settle on its own: PASS/FAIL lines of its three cases.
out=$(/usr/bin/python3 -I -B tests/integ/launcher_settle.py "$SRC_LAUNCHERS" 2>&1)
rc=$?
grep -E '^(PASS|FAIL) ' <<<"$out"
for t in launcher_threads_outlive_join launcher_settle_waits_threads launcher_settle_timeout_names_thread; do
	grep -qE "^(PASS|FAIL) $t(:|\$)" <<<"$out" ||
		echo "FAIL $t: launcher_settle.py exited $rc: $(tail -2 <<<"$out" | tr '\n' ' ')"
done
for t in "${TESTS[@]}"; do
	run_test "$t" proxy_case "test_$t"
done
