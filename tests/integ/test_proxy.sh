#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# rewind-proxy end to end: a real proxy on a free port (--port 0) in front of
# real Python and Node functions (tests/proxy), driven with curl like an
# OpenWhisk invoker, against a private rewindd. Each test asserts what would
# change if its feature broke; the leak tests run in insecure mode as well,
# where the secret must be seen, so that they can fail. The proxy's "ready"
# line (read from a FIFO) says when it serves: no sleeps. Every test ends by
# stopping the proxy with SIGTERM and checking that it exited 0 (sanitizer
# builds report leaks through the exit status) and removed its cgroup.
cd "$(dirname "$0")/../.." || exit 1
. tests/integ/lib.sh
. tests/integ/proxy_lib.sh

TESTS=(proxy_launcher_lookup proxy_python_init_run proxy_node_init_run proxy_init_twice_403
	proxy_run_before_init_403 proxy_init_errors proxy_malformed_json_400 proxy_oversized_body_413
	proxy_unknown_path_method proxy_zip_python proxy_zip_node proxy_large_payload
	proxy_leak_python_rewind proxy_leak_python_insecure proxy_leak_node_rewind
	proxy_leak_node_insecure proxy_rewind_failure_restarts proxy_rewindd_restarted proxy_rewindd_connection_closed proxy_killed_mid_rewind proxy_stopped_mid_rewind proxy_ow_env_per_activation
	proxy_ow_env_per_activation_insecure proxy_crash_400_then_served proxy_hang_timeout_502
	proxy_deadline_passed_on proxy_not_a_dictionary_502 proxy_restart_mode
	proxy_result_too_large_502 proxy_warmup_before_checkpoint proxy_warmup_input proxy_settled_gc
	proxy_requests_one_at_a_time
	proxy_log_file proxy_node_dotted_main_errors proxy_no_rewindd_502 proxy_sigterm_during_activation proxy_sigterm_during_rewind proxy_second_sigterm
	proxy_watch_another_tree
	proxy_leak_python_fork proxy_fork_mode proxy_rewind_stages)
only_tests PROXY_ONLY
proxy_preflight curl jq /usr/bin/python3

# ---- the interface ------------------------------------------------------------

# The lookup is explicit: --launchers, EXE/../user/proxy/launchers (source
# tree), EXE/../lib/rewindd/launchers (installed), then make install's path.
test_proxy_launcher_lookup() {
	local out prefix=$PROXY_ROOT/prefix
	out=$("$PROXY" --print-launcher-dir) || { echo "--print-launcher-dir failed: $out"; return 1; }
	expect "launchers of a build in the tree" "$out" "$SRC_LAUNCHERS" || return 1
	mkdir -p "$prefix/sbin" "$prefix/lib/rewindd/launchers" "$TMP/elsewhere/launchers"
	cp "$PROXY" "$prefix/sbin/rewind-proxy"
	cp "$SRC_LAUNCHERS"/launcher.* "$prefix/lib/rewindd/launchers/"
	out=$("$prefix/sbin/rewind-proxy" --print-launcher-dir) || { echo "installed layout: $out"; return 1; }
	expect "launchers of an installed binary" "$out" "$prefix/lib/rewindd/launchers" || return 1
	out=$("$prefix/sbin/rewind-proxy" --print-launcher-dir --launchers "$TMP/elsewhere/launchers" 2>&1) &&
		{ echo "--launchers without launcher.py was accepted: $out"; return 1; }
	grep -q "$TMP/elsewhere/launchers/launcher.py" <<<"$out" || { echo "message: $out"; return 1; }
	cp "$SRC_LAUNCHERS/launcher.js" "$TMP/elsewhere/launchers/"
	out=$("$prefix/sbin/rewind-proxy" --runtime node --print-launcher-dir --launchers "$TMP/elsewhere/launchers") ||
		return 1
	expect "--launchers" "$out" "$TMP/elsewhere/launchers" || return 1
	# The installed copy serves a function with its own launchers.
	PROXY=$prefix/sbin/rewind-proxy start_proxy --mode insecure || return 1
	grep -q "launchers in $prefix/lib/rewindd/launchers" "$PLOG" || { echo "log: $(head -3 "$PLOG")"; return 1; }
	init_action "$ACTIONS/hello.py" || return 1
	expect_run '{"name":"installed"}' '.greeting == "hello installed"'
}

# init → 200 {"ok":true}; run → the function's dict, in its own dir and
# TMPDIR; its stdout reaches the log, before the end-of-activation marker.
test_proxy_python_init_run() {
	start_proxy || return 1
	init_action "$ACTIONS/hello.py" || return 1
	expect_run '{"name":"alice"}' ".greeting == \"hello alice\" and .cwd == \"$WORK/action\" and
		.tmpdir == \"/tmp\"" || return 1
	grep -qi '^content-type: application/json' "$TMP/headers" || { echo "headers: $(cat "$TMP/headers")"; return 1; }
	expect "function pid's cgroup" "$(grep '^0::' "/proc/$(jfield .pid)/cgroup")" "0::/rewind-proxy-$PORT/fn" ||
		return 1
	expect_run '{"name":"❄ ☃ ❄"}' '.greeting == "hello ❄ ☃ ❄"' || return 1
	output_apart alice
}

# output_apart NAME: hello's stdout line for NAME is on the proxy's stdout and
# its stderr line on its stderr, neither on the other, each stream closing the
# activation with the sentinel.
output_apart() {
	local s='XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX'
	[ "$(awk -v l="hello stdout from $1" -v s="$s" '$0 == l { f = 1 } f && $0 == s { print; exit }' "$POUT")" = "$s" ] ||
		{ echo "stdout: output or sentinel missing: $(tail -3 "$POUT")"; return 1; }
	[ "$(awk -v l="hello stderr from $1" -v s="$s" '$0 == l { f = 1 } f && $0 == s { print; exit }' "$PLOG")" = "$s" ] ||
		{ echo "stderr: output or sentinel missing: $(tail -3 "$PLOG")"; return 1; }
	! grep -q "hello stderr" "$POUT" || { echo "stderr output on stdout"; return 1; }
	! grep -q "hello stdout" "$PLOG" || { echo "stdout output on stderr"; return 1; }
}

# Each rewind is measured (-v: its round trip and rewindd's stages; at exit, their number).
test_proxy_rewind_stages() {
	local n
	start_proxy -v || return 1
	init_action "$ACTIONS/hello.py" || return 1
	# Each rewind runs after its answer was sent; the worker serves the next
	# request only after it: the fourth answer means three rewinds are logged.
	for n in 1 2 3 4; do
		expect_run '{"name":"x"}' '.greeting == "hello x"' || return 1
	done
	n=$(grep -c 'rewound in [0-9.]* us (rewindd, us: stop=[0-9.]* .*total=' "$PLOG")
	[ "$n" -ge 3 ] || { echo "$n lines with the stages: $(grep rewound "$PLOG" | tail -2)"; return 1; }
	stop_proxy || return 1
	grep -q ' [0-9]* rewind(s), [0-9.]* us each on average' "$PLOG" ||
		{ echo "no summary at exit: $(tail -3 "$PLOG")"; return 1; }
}

test_proxy_node_init_run() {
	start_proxy --runtime node || return 1
	init_action "$ACTIONS/hello.js" || return 1
	expect_run '{"name":"alice"}' ".greeting == \"hello alice\" and .cwd == \"$WORK/action\"" || return 1
	expect_run '{"name":"❄ ☃ ❄"}' '.greeting == "hello ❄ ☃ ❄"' || return 1
	output_apart '❄ ☃ ❄' || return 1
	run '"a string"' || return 1
	expect "/run with a string value" "$CODE $BODY" \
		"403 {\"error\":\"Internal system error: the argument must be a dictionary but has type 'string'.\"}"
}

test_proxy_init_twice_403() {
	start_proxy || return 1
	init_action "$ACTIONS/hello.py" || return 1
	post /init "@$TMP/init.json" || return 1
	expect "second /init" "$CODE $BODY" '403 {"error":"Cannot initialize the action more than once."}' || return 1
	grep -q "Cannot initialize the action more than once." "$PLOG" || { echo "not in the log"; return 1; }
	expect_run '{"name":"still"}' '.greeting == "hello still"'
}

test_proxy_run_before_init_403() {
	start_proxy || return 1
	run '{"name":"early"}' || return 1
	expect "/run before /init" "$CODE $BODY" '403 {"error":"System not initialized."}' || return 1
	init_action "$ACTIONS/hello.py" || return 1
	expect_run '{"name":"later"}' '.greeting == "hello later"'
}

STARTFAIL='{"error":"Cannot start action. Check logs for details."}'

# A failed /init leaves the proxy uninitialised: a good one may follow.
test_proxy_init_errors() {
	start_proxy || return 1
	post /init '{"value":{"main":"main"}}' || return 1
	expect "no code" "$CODE $BODY" '403 {"error":"Missing main/no code to execute."}' || return 1
	post /init '{}' || return 1
	expect "no value" "$CODE $BODY" '403 {"error":"Missing main/no code to execute."}' || return 1
	post /init '{"value":{"code":"not base64 !","binary":true}}' || return 1
	expect "bad base64 status" "$CODE" 400 || return 1
	[[ $(jfield .error) == "cannot decode the request: "* ]] || { echo "bad base64: $BODY"; return 1; }
	post /init "{\"value\":{\"code\":\"$(printf 'not a zip' | base64)\",\"binary\":true}}" || return 1
	# actionloop's words; why is in the function's log (stderr here).
	expect "not a zip" "$CODE $BODY" "502 $STARTFAIL" || return 1
	grep -q "^not a valid zip file" "$PLOG" || { echo "not a zip: $(tail -2 "$PLOG")"; return 1; }
	post /init '{"value":{"code":"def main(args:\n  return {}\n"}}' || return 1
	expect "syntax error" "$CODE $BODY" "502 $STARTFAIL" || return 1
	grep -q "^SyntaxError" "$PLOG" || { echo "syntax error: $(tail -2 "$PLOG")"; return 1; }
	post /init '{"value":{"code":"def main(args):\n  return {}\n","main":"nope"}}' || return 1
	expect "missing main" "$CODE $BODY" "502 $STARTFAIL" || return 1
	grep -q "no function named nope" "$PLOG" || { echo "missing main: $(tail -2 "$PLOG")"; return 1; }
	post /init '{"value":{"code":"import os\nos._exit(1)\n"}}' || return 1
	expect "exits while loading" "$CODE $BODY" "502 $STARTFAIL" || return 1
	grep -qx "Command exited abruptly during initialization." "$PLOG" || { echo "no exit in the log"; return 1; }
	run '{}' || return 1
	expect "still not initialised" "$CODE" 403 || return 1
	init_action "$ACTIONS/hello.py" || return 1
	expect_run '{"name":"finally"}' '.greeting == "hello finally"'
}

test_proxy_malformed_json_400() {
	local body
	start_proxy || return 1
	for body in '{"value":' 'not json' '[1,2]' '{"value":{}} trailing' ''; do
		post /init "$body" || return 1
		expect "/init '$body' status" "$CODE" 400 || return 1
		[[ $(jfield .error) == "Error unmarshaling request: "* ]] || { echo "/init '$body': $BODY"; return 1; }
	done
	init_action "$ACTIONS/hello.py" || return 1
	post /run '{"value": {"name": "x"' || return 1
	expect "/run malformed status" "$CODE" 400 || return 1
	[[ $(jfield .error) == "Error unmarshaling request: "* ]] || { echo "/run: $BODY"; return 1; }
	expect_run '{"name":"fine"}' '.greeting == "hello fine"'
}

# 413 before the body is read (Content-Length) and while it is (chunked);
# a body just under the limit still works.
test_proxy_oversized_body_413() {
	start_proxy --max-body 4096 --mode insecure || return 1
	jq -n --rawfile code "$ACTIONS/echo.py" '{value: {code: $code}}' >"$TMP/init.json"
	post /init "@$TMP/init.json" || return 1
	expect "/init" "$CODE" 200 || return 1
	jq -cn --arg s "$(head -c 5000 /dev/zero | tr '\0' a)" '{value: {s: $s}}' >"$TMP/big.json"
	post /run "@$TMP/big.json" || return 1
	expect "oversized /run" "$CODE $BODY" \
		"413 {\"error\":\"Request larger than allowed: $(stat -c %s "$TMP/big.json") > 4096 bytes.\"}" || return 1
	post /run "@$TMP/big.json" -H 'Transfer-Encoding: chunked' || return 1
	expect "oversized chunked /run" "$CODE" 413 || return 1
	[[ $(jfield .error) == "Request larger than allowed: "*" > 4096 bytes." ]] || { echo "chunked: $BODY"; return 1; }
	post /init "@$TMP/big.json" || return 1
	expect "oversized /init" "$CODE" 413 || return 1
	jq -cn --arg s "$(head -c 3000 /dev/zero | tr '\0' b)" '{value: {s: $s}}' >"$TMP/ok.json"
	post /run "@$TMP/ok.json" -H 'Transfer-Encoding: chunked' || return 1
	expect "a body under the limit" "$CODE $(jfield '.s | length')" "200 3000"
}

test_proxy_unknown_path_method() {
	start_proxy || return 1
	init_action "$ACTIONS/hello.py" || return 1
	CODE=$(curl -sS -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "http://127.0.0.1:$PORT/run") || return 1
	expect "GET /run" "$CODE $(cat "$TMP/body")" \
		'405 {"error":"HTTP method not allowed, supported methods: POST"}' || return 1
	grep -qi '^allow: POST' "$TMP/headers" || { echo "no Allow header: $(cat "$TMP/headers")"; return 1; }
	CODE=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -d '{}' "http://127.0.0.1:$PORT/init") || return 1
	expect "PUT /init" "$CODE" 405 || return 1
	post /nope '{}' || return 1
	expect "POST /nope" "$CODE $BODY" '404 {"error":"The requested resource does not exist."}' || return 1
	CODE=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/") || return 1
	expect "GET /" "$CODE" 404 || return 1
	expect_run '{"name":"after"}' '.greeting == "hello after"'
}

# zip_dir DIR: base64 of a zip of DIR's contents (python's zipfile: no zip(1) needed).
zip_dir() {
	/usr/bin/python3 - "$1" <<'EOF' | base64 -w0
import os, sys, zipfile
root = sys.argv[1]
with zipfile.ZipFile(sys.stdout.buffer, "w") as z:
    for d, _, files in os.walk(root):
        for f in sorted(files):
            p = os.path.join(d, f)
            z.write(p, os.path.relpath(p, root))
EOF
}

init_zip() {
	local code
	code=$(zip_dir "$1") || return 1
	jq -n --arg code "$code" '{value: {name: "zipped", main: "main", code: $code, binary: true}}' \
		>"$TMP/init.json"
	post /init "@$TMP/init.json" || return 1
	expect "/init of a zip" "$CODE $BODY" '200 {"ok":true}'
}

test_proxy_zip_python() {
	start_proxy || return 1
	init_zip "$ACTIONS/zip-python" || return 1
	expect_run '{"name":"zip"}' '.shout == "HELLO ZIP"' || return 1
	[ -f "$WORK/action/helper.py" ] || { echo "helper.py not unpacked"; return 1; }
}

test_proxy_zip_node() {
	start_proxy --runtime node || return 1
	init_zip "$ACTIONS/zip-node" || return 1
	expect_run '{"name":"zip"}' '.shout == "HELLO ZIP"'
}

# More than a pipe holds, both ways (OpenWhisk's large-input test: 1 MiB).
test_proxy_large_payload() {
	start_proxy || return 1
	init_action "$ACTIONS/echo.py" || return 1
	{ printf '{"value":{"arg":"'; head -c 1048561 /dev/zero | tr '\0' a; printf '"}}'; } >"$TMP/big.json"
	post /run "@$TMP/big.json" || return 1
	expect "1 MiB echo" "$CODE $(jfield '.arg | length')" "200 1048561" || return 1
	expect_run '{"small":1}' '. == {"small":1}'
}

# ---- isolation ------------------------------------------------------------------

# leak RUNTIME MODE: alice's secret (global, TMPDIR file, work dir file, env)
# must be invisible to bob in rewind and fork mode and visible in insecure mode.
leak() {
	local rt=$1 mode=$2 file secret_a secret_b
	shift 2
	[ "$rt" = node ] && { [ -x /usr/bin/node ] || { echo "/usr/bin/node is missing"; return 77; }; }
	[ "$rt" = node ] && file=$ACTIONS/leak.js || file=$ACTIONS/leak.py
	secret_a=alice_$(random_secret) && secret_b=bob_$(random_secret) || return 1
	start_proxy --runtime "$rt" --mode "$mode" "$@" || return 1
	init_action "$file" || return 1
	expect_run "{\"secret\":\"$secret_a\"}" '.found == {"global":null,"tmpfile":null,"workfile":null,"env":null}' ||
		return 1
	run "{\"secret\":\"$secret_b\"}" || return 1
	expect "bob's status" "$CODE" 200 || return 1
	if [ "$mode" != insecure ]; then
		expect "what bob finds of alice" "$(jq -c .found <<<"$BODY")" \
			'{"global":null,"tmpfile":null,"workfile":null,"env":null}' || return 1
		# Alice's files are gone from the disk too, not only from bob's view.
		! grep -rqs "$secret_a" "$WORK" || { echo "alice's secret is still on disk: $(grep -rls "$secret_a" "$WORK")"; return 1; }
	else
		expect "what bob finds of alice (insecure: the leak this test would catch)" \
			"$(jq -c .found <<<"$BODY")" \
			"{\"global\":\"$secret_a\",\"tmpfile\":\"$secret_a\",\"workfile\":\"$secret_a\",\"env\":\"$secret_a\"}" ||
			return 1
	fi
}

# Python's rewinds are verified byte for byte (--verify), Node's are not.
test_proxy_leak_python_rewind() { leak python rewind --verify; }
test_proxy_leak_python_insecure() { leak python insecure; }
test_proxy_leak_node_rewind() { leak node rewind; }
test_proxy_leak_node_insecure() { leak node insecure; }
# Fork mode: alice's child dies with her global and env; the proxy restores
# the function's dir (her two files) before bob's child is forked.
test_proxy_leak_python_fork() { leak python fork; }

# The function closes a socket it created before the checkpoint: rewindd
# fails the rewind (and kills it). The next request is answered by a fresh,
# checkpointed process, the failed session is detached, and the log says so.
test_proxy_rewind_failure_restarts() {
	local pid1 pid2 sessions
	start_proxy || return 1
	init_action "$ACTIONS/sockfail.py" || return 1
	expect_run '{}' '.pid > 0' || return 1
	pid1=$(jfield .pid)
	expect_run '{}' ".pid == $pid1" || return 1
	expect_run '{"close":true}' ".pid == $pid1" || return 1
	expect_run '{}' ".pid != $pid1" || { echo "served by the process that was not rewound"; return 1; }
	pid2=$(jfield .pid)
	gone "$pid1" || { echo "the failed process $pid1 still runs"; return 1; }
	grep -q "rewind of session [0-9]* failed: .*; restarting the function" "$PLOG" ||
		{ echo "no rewind failure in the log: $(grep -v '^XXX' "$PLOG" | tail -3)"; return 1; }
	grep -q "function restarted from scratch: pid $pid2" "$PLOG" || { echo "no restart in the log"; return 1; }
	sessions=$("$CTL" status --json | jq -c '[.sessions[] | .state]')
	expect "rewindd sessions after the restart" "$sessions" '["active"]' || return 1
	# The new process is rewound as the first was.
	expect_run '{}' ".pid == $pid2" || return 1
	expect_run '{}' ".pid == $pid2"
}

# rewindd is killed while the function waits for its next request, then
# started again: the new one kills the function whose checkpoint died with
# the first (recovery), the proxy sees its connection closed and answers the
# next request from a function started from scratch, rewound by the new one.
test_proxy_rewindd_restarted() {
	local pid1 pid2
	start_proxy -v || return 1
	init_action "$ACTIONS/sockfail.py" || return 1
	expect_run '{}' '.pid > 0' || return 1
	pid1=$(jfield .pid)
	# The rewind after that answer ends before rewindd dies: killed
	# mid-rewind, the proxy would restart the function at once and leave
	# nothing to recover.
	wait_rewinds 1 || return 1
	kill -KILL "$DAEMON_PID" && tail --pid="$DAEMON_PID" -f /dev/null
	DAEMON_PID=
	start_daemon --state-dir "$TMP/state" || { echo "rewindd did not start again"; return 1; }
	"$CTL" status --json | jq -r '.recovered[]?' | grep -q "pid $pid1 its checkpoint died with that rewindd: killed" ||
		{ echo "recovered: $("$CTL" status --json | jq -c .recovered)"; return 1; }
	expect_run '{}' ".pid != $pid1" || { echo "served by the function of the dead rewindd"; return 1; }
	pid2=$(jfield .pid)
	gone "$pid1" || { echo "the function of the dead rewindd, $pid1, still runs"; return 1; }
	grep -q "rewindd closed its connection since the last rewind" "$PLOG" ||
		{ echo "not in the log: $(tail -3 "$PLOG")"; return 1; }
	expect_run '{}' ".pid == $pid2" || return 1
	expect_run '{}' ".pid == $pid2"
}

# rewindd closes the proxy's idle connection to make room for others: the
# proxy reconnects, finds its session under the same instance, and the same
# function serves on, rewound (no restart).
test_proxy_rewindd_connection_closed() {
	local pid1
	start_proxy -v || return 1
	init_action "$ACTIONS/sockfail.py" || return 1
	expect_run '{}' '.pid > 0' || return 1
	pid1=$(jfield .pid)
	# Its connection is idle only once the rewind after that answer ended.
	wait_rewinds 1 || return 1
	# More idle connections than rewindd's table: the proxy's, idle the longest, goes.
	/usr/bin/python3 -c '
import socket, sys
conns = []
for _ in range(300):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); conns.append(s)
s = conns[-1]; s.sendall(b"{\"cmd\":\"status\"}\n"); s.recv(1 << 20)' "$SOCK" || return 1
	grep -q "closing the one idle the longest (pid $PROXY_PID)" "$TMP/rewindd.log" ||
		{ echo "rewindd did not close the proxy's connection: $(grep -m1 'idle the longest' "$TMP/rewindd.log")"; return 1; }
	expect_run '{}' ".pid == $pid1" || { echo "the function was restarted: $(grep -i restart "$PLOG" | tail -2)"; return 1; }
	expect_run '{}' ".pid == $pid1" || return 1
	! grep -q "restarting the function" "$PLOG" || { echo "restarted: $(grep restarting "$PLOG")"; return 1; }
}

# restart_daemon [VAR=VALUE...]: the main rewindd again, with those in its environment.
restart_daemon() {
	kill -TERM "$DAEMON_PID" && tail --pid="$DAEMON_PID" -f /dev/null
	DAEMON_PID=
	(
		[ $# = 0 ] || export "$@"
		start_daemon --state-dir "$TMP/state"
	) || { echo "rewindd did not start again"; return 1; }
	DAEMON_PID=$(cat "$TMP/rewindd.pid")
}

# Run a request whose answer is followed by a rewind that rewindd stops
# itself in (REWINDD_FAULT_ACTION=stop, once, at the stop of the function):
# returns once it has stopped there, the function held. FN_PID: the function.
run_into_stopped_rewind() {
	local lines=$(wc -l <"$TMP/rewindd.log")
	restart_daemon REWINDD_FAULT=rewind-stopped REWINDD_FAULT_ACTION=stop || return 1
	start_proxy || return 1
	init_action "$ACTIONS/hello.py" || return 1
	expect_run '{"name":"a"}' '.greeting == "hello a"' || return 1
	FN_PID=$(jfield .pid)
	# Its log line comes just before the stop (tail follows the file: no sleep).
	timeout 60 grep -q -m1 "REWINDD_FAULT=rewind-stopped: stopping myself" \
		<(tail -n +"$((lines + 1))" -f --pid="$DAEMON_PID" "$TMP/rewindd.log") ||
		{ echo "rewindd did not stop in the rewind"; return 1; }
}

# The proxy is killed while rewindd rewinds its function: the function dies
# with it (PR_SET_PDEATHSIG, even held by rewindd), rewindd fails that rewind
# closed, drops the answer nobody reads and serves on; the next proxy's
# function is rewound and verified as usual.
test_proxy_killed_mid_rewind() {
	local sid
	run_into_stopped_rewind || { kill -CONT "$DAEMON_PID"; return 1; }
	kill -KILL "$PROXY_PID"
	wait "$PROXY_PID"
	PROXY_PID=
	kill -CONT "$DAEMON_PID"
	# Killed by the kernel when its proxy died; its exit is waited for on a pidfd.
	exited "$FN_PID" || { echo "the function $FN_PID survived its proxy"; return 1; }
	expect "the session after its proxy died mid-rewind" \
		"$("$CTL" status --json | jq -r '[.sessions[] | .state] | join(",")')" failed || return 1
	grep -q "session [0-9]*: rewind of invocation 1 failed: .*; target killed" "$TMP/rewindd.log" ||
		{ echo "rewindd log: $(grep -m1 "rewind of invocation" "$TMP/rewindd.log")"; return 1; }
	"$CTL" status --json | jq -r '.sessions[].id' | while read -r sid; do
		"$CTL" detach "$sid" >/dev/null
	done
	remove_cgroup "$CGROOT/rewind-proxy-$PORT"
	start_proxy || return 1
	init_action "$ACTIONS/hello.py" || return 1
	expect_run '{"name":"b"}' '.greeting == "hello b"' || return 1
	expect_run '{"name":"c"}' '.greeting == "hello c"' || return 1
	restart_daemon
}

# The proxy is stopped while rewindd rewinds its function: rewindd finishes,
# answers into the socket, serves other clients meanwhile, and the proxy,
# continued, goes on with the same function, rewound and verified.
test_proxy_stopped_mid_rewind() {
	run_into_stopped_rewind || { kill -CONT "$DAEMON_PID"; return 1; }
	kill -STOP "$PROXY_PID"
	kill -CONT "$DAEMON_PID"
	# Served while the proxy that waits for its answer is stopped.
	timeout 30 "$CTL" status --json >"$TMP/status.json" ||
		{ kill -CONT "$PROXY_PID"; echo "rewindd did not serve status"; return 1; }
	kill -CONT "$PROXY_PID"
	expect "the session" "$(jq -r '[.sessions[] | .state] | join(",")' "$TMP/status.json")" active ||
		return 1
	expect_run '{"name":"b"}' ".greeting == \"hello b\" and .pid == $FN_PID" || return 1
	expect_run '{"name":"c"}' ".pid == $FN_PID" || return 1
	! grep -q "restarting the function" "$PLOG" || { echo "restarted: $(grep restarting "$PLOG")"; return 1; }
	restart_daemon
}

# __OW_* variables are set per activation: what one activation got (api_key,
# transaction_id) is not visible to the next one, which did not get them.
ow_env() {
	local mode=$1 deadline
	deadline=$((($(date +%s) + 600) * 1000))
	__OW_API_HOST=https://whisk.example start_proxy --mode "$mode" || return 1
	jq -n --rawfile code "$ACTIONS/owenv.py" \
		'{value: {code: $code, env: {SOME_VAR: "xyz", OBJ_VAR: {a: 1}, EMPTY_VAR: null}}}' >"$TMP/init.json"
	post /init "@$TMP/init.json" || return 1
	expect "/init" "$CODE" 200 || return 1
	CONTEXT="{\"namespace\":\"ns1\",\"action_name\":\"/ns1/owenv\",\"action_version\":\"0.0.1\",
		\"activation_id\":\"act-1\",\"transaction_id\":\"tx-1\",\"api_key\":\"secret-key-1\",\"deadline\":$deadline}" \
		expect_run '{}' ".env.__OW_ACTIVATION_ID == \"act-1\" and .env.__OW_API_KEY == \"secret-key-1\" and
			.env.__OW_TRANSACTION_ID == \"tx-1\" and .env.__OW_NAMESPACE == \"ns1\" and
			.env.__OW_ACTION_NAME == \"/ns1/owenv\" and .env.__OW_ACTION_VERSION == \"0.0.1\" and
			.env.__OW_DEADLINE == \"$deadline\" and .env.__OW_API_HOST == \"https://whisk.example\" and
			.env.SOME_VAR == \"xyz\" and .env.OBJ_VAR == \"{\\\"a\\\":1}\" and .env.EMPTY_VAR == \"\"" ||
		return 1
	CONTEXT='{"namespace":"ns2","activation_id":"act-2"}' \
		expect_run '{}' '.env.__OW_ACTIVATION_ID == "act-2" and .env.__OW_NAMESPACE == "ns2"' || return 1
	expect "activation 2's __OW_* variables" \
		"$(jq -c '.env | with_entries(select(.key | startswith("__OW_"))) | keys' <<<"$BODY")" \
		'["__OW_ACTIVATION_ID","__OW_API_HOST","__OW_NAMESPACE"]'
}

test_proxy_ow_env_per_activation() { ow_env rewind; }
test_proxy_ow_env_per_activation_insecure() { ow_env insecure; }

# ---- failing functions ---------------------------------------------------------

test_proxy_crash_400_then_served() {
	local pid1
	start_proxy || return 1
	init_action "$ACTIONS/crash.py" || return 1
	expect_run '{}' '.pid > 0' || return 1
	pid1=$(jfield .pid)
	run '{"crash":true}' || return 1
	expect "crash" "$CODE $BODY" '400 {"error":"command exited"}' || return 1
	expect_run '{}' ".pid != $pid1" || return 1
	grep -q "function pid $pid1 ended during an activation (exit status 3); restarting the function" "$PLOG" ||
		{ echo "no crash in the log: $(grep -v '^XXX' "$PLOG" | tail -3)"; return 1; }
	run '{"signal":11}' || return 1
	expect "killed by SIGSEGV" "$CODE" 400 || return 1
	expect_run '{}' '.pid > 0'
}

# exited PID: wait (30 s at most) on a pidfd until it has exited (a zombie, or reaped).
exited() {
	/usr/bin/python3 -c '
import os, select, sys
try:
    fd = os.pidfd_open(int(sys.argv[1]))
except ProcessLookupError:
    sys.exit(0)
sys.exit(0 if select.select([fd], [], [], 30)[0] else 1)' "$1"
}

# gone PID: no such process, or only its zombie (killed, not reaped yet by its new parent).
gone() {
	[ ! -e "/proc/$1" ] || [ "$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)" = Z ]
}

# hang FLAGS CONTEXT LIMIT_MS: the activation is killed at its limit with
# the child it started, answered 502, and the next request is served.
hang() {
	local limit=$3 t0 elapsed child
	# shellcheck disable=SC2086 # FLAGS are words
	start_proxy $1 || return 1
	init_action "$ACTIONS/hang.py" || return 1
	t0=$(date +%s%N)
	CONTEXT=$2 run '{"hang":true}' || return 1
	elapsed=$((($(date +%s%N) - t0) / 1000000))
	expect "hang" "$CODE $BODY" "502 {\"error\":\"The action exceeded its time limits of $limit milliseconds.\"}" ||
		return 1
	if [ $elapsed -lt $((limit - 100)) ] || [ $elapsed -ge $((limit + 10000)) ]; then
		echo "answered after $elapsed ms, limit $limit ms"
		return 1
	fi
	child=$(sed -n 's/^hang: child pid \([0-9]*\)$/\1/p' "$POUT")
	[ -n "$child" ] || { echo "the hanging function did not log its child"; return 1; }
	gone "$child" || { echo "its child $child survived the kill"; return 1; }
	expect_run '{}' '.pid > 0' || return 1
	grep -q "exceeded its time limit of $limit ms; killed; restarting the function" "$PLOG" ||
		{ echo "no timeout in the log"; return 1; }
}

test_proxy_hang_timeout_502() { hang "--timeout 1.5" '{}' 1500; }

# The activation's "deadline" is the invoker's to enforce: one already past,
# or not a time at all (upstream's context test sends "123"), reaches the
# function as __OW_DEADLINE and the activation runs (proxy_hang_timeout_502
# is the limit the proxy does enforce, --timeout).
test_proxy_deadline_passed_on() {
	local pid
	start_proxy --timeout 60 || return 1
	init_action "$ACTIONS/owenv.py" || return 1
	expect_run '{}' '.pid > 0' || return 1
	pid=$(jfield .pid)
	for dl in '"123"' '1' '"soon"'; do
		CONTEXT="{\"deadline\":$dl}" expect_run '{}' \
			".env.__OW_DEADLINE == ($dl | tostring) and .pid == $pid" || return 1
	done
	! grep -q "exceeded its time limit" "$PLOG" || { echo "killed: $(grep "time limit" "$PLOG")"; return 1; }
}

# --log-file: the proxy's messages and its ready line go there, stdout and
# stderr carry the function's output alone; a path that cannot be opened is
# refused at start (exit 1, said on stderr).
test_proxy_log_file() {
	local log=$TMP/own.log out=$TMP/lf.out err=$TMP/lf.err line rc=0
	"$PROXY" --port 0 --bind 127.0.0.1 --log-file "$TMP/no/such/dir/log" --rewindd-socket "$SOCK" \
		--work-dir "$PROXY_ROOT/lf-bad" >/dev/null 2>"$err" || rc=$?
	expect "exit status, log file not writable" "$rc" 1 || return 1
	grep -q "cannot open --log-file $TMP/no/such/dir/log" "$err" || { echo "said: $(cat "$err")"; return 1; }
	: >"$log"
	"$PROXY" --port 0 --bind 127.0.0.1 --work-dir "$PROXY_ROOT/lf" --rewindd-socket "$SOCK" --verify \
		--log-file "$log" >"$out" 2>"$err" &
	PROXY_PID=$!
	PLOG=$log WORK=$PROXY_ROOT/lf
	IFS= read -t 60 -r line < <(tail -n +1 -f --pid="$PROXY_PID" "$log" |
		grep --line-buffered -m1 '^rewind-proxy: ready on port ')
	[ -n "$line" ] || { echo "no ready line in $log: $(tail -3 "$log")"; return 1; }
	PORT=${line#rewind-proxy: ready on port }
	PORT=${PORT%% *}
	init_action "$ACTIONS/hello.py" || return 1
	expect_run '{"name":"lf"}' '.greeting == "hello lf"' || return 1
	expect "stdout" "$(cat "$out")" $'hello stdout from lf\nXXX_THE_END_OF_A_WHISK_ACTIVATION_XXX' || return 1
	expect "stderr" "$(cat "$err")" $'hello stderr from lf\nXXX_THE_END_OF_A_WHISK_ACTIVATION_XXX' || return 1
	grep -q "function started: pid" "$log" || { echo "no message of the proxy's in $log"; return 1; }
}

# Node zips: main "module.path" names a module of the zip; a module that is
# not there, or a malformed path, fails /init with Node's words and logs why.
test_proxy_node_dotted_main_errors() {
	local zip main
	start_proxy --runtime node || return 1
	zip=$(/usr/bin/python3 -c 'import base64, io, zipfile
b = io.BytesIO()
with zipfile.ZipFile(b, "w") as z:
    z.writestr("other.js", "exports.niam = { xyz: () => ({ ok: 1 }) };\n")
print(base64.b64encode(b.getvalue()).decode())')
	for main in missing.niam other..xyz other. .niam; do
		post /init "{\"value\":{\"code\":\"$zip\",\"binary\":true,\"main\":\"$main\"}}" || return 1
		expect "main $main status" "$CODE" 502 || return 1
		[[ $(jfield .error) == "Initialization has failed due to: "* ]] || { echo "main $main: $BODY"; return 1; }
	done
	grep -q "^Error during initialization: Zipped action has no module for main 'missing.niam'" "$PLOG" ||
		{ echo "no reason in the function's log: $(tail -3 "$PLOG")"; return 1; }
	grep -q "^Error during initialization: main must name a function, got 'other..xyz'" "$PLOG" ||
		{ echo "no reason for other..xyz: $(tail -3 "$PLOG")"; return 1; }
	post /init "{\"value\":{\"code\":\"$zip\",\"binary\":true,\"main\":\"other.niam.xyz\"}}" || return 1
	expect "/init other.niam.xyz" "$CODE $BODY" '200 {"ok":true}' || return 1
	expect_run '{}' '.ok == 1'
}

test_proxy_not_a_dictionary_502() {
	local kind
	start_proxy || return 1
	init_action "$ACTIONS/notdict.py" || return 1
	for kind in string none number; do
		run "{\"kind\":\"$kind\"}" || return 1
		expect "result of kind $kind" "$CODE $BODY" '502 {"error":"The action did not return a dictionary or array."}' ||
			return 1
	done
	# OpenWhisk accepts arrays as results (the Go proxy: "dictionary or array").
	run '{"kind":"list"}' || return 1
	expect "a list" "$CODE $(jq -c . <<<"$BODY")" '200 [1,2,3]' || return 1
	expect_run '{"kind":"dict"}' '.kind == "dict"'
}

# A result longer than --max-body is refused, and the function restarted
# (what it wrote is still in the pipe).
test_proxy_result_too_large_502() {
	local pid
	start_proxy --max-body 4096 || return 1
	init_action "$ACTIONS/notdict.py" || return 1
	expect_run '{"kind":"big","size":4000}' '.s | length == 4000' || return 1
	pid=$(jfield .pid)
	run '{"kind":"big","size":100000}' || return 1
	expect "too large a result" "$CODE" 502 || return 1
	[[ $(jfield .error) =~ ^"The action produced a response that exceeded the allowed length: "[0-9]+" > 4096 bytes."$ ]] ||
		{ echo "too large: $BODY"; return 1; }
	expect_run '{"kind":"big","size":10}' ".s == \"xxxxxxxxxx\" and .pid != $pid"
}

# --watch DIR: a tree outside the function's dir is rolled back too; one
# that is not watched keeps what the activation wrote (the test can fail).
test_proxy_watch_another_tree() {
	local watched=$PROXY_ROOT/watched unwatched=$PROXY_ROOT/unwatched
	mkdir -p "$watched" "$unwatched"
	start_proxy --watch "$watched" || return 1
	init_action "$ACTIONS/writefile.py" || return 1
	expect_run "{\"path\":\"$watched/left.txt\",\"text\":\"a secret\"}" '.pid > 0' || return 1
	expect_run "{\"path\":\"$unwatched/left.txt\",\"text\":\"a secret\"}" '.pid > 0' || return 1
	# The second activation ran after the first was rewound.
	[ ! -e "$watched/left.txt" ] || { echo "$watched/left.txt outlived the rewind"; return 1; }
	expect "the unwatched file" "$(cat "$unwatched/left.txt")" "a secret"
}

# ---- modes ---------------------------------------------------------------------------

# Fork mode: the warm-up runs in the launcher (the template) before it is
# switched to forking; then every /run is answered by a new child of the
# template, which runs no activation itself and stays; what a child started
# (a process in a session of its own) is killed before the next /run; a
# child that crashes ends the template (502) and a fresh one serves the next.
# Node has no fork(): the proxy refuses --mode fork for it up front.
test_proxy_fork_mode() {
	local out tpl pid1 child
	out=$("$PROXY" --mode fork --runtime node --port 0 2>&1) && { echo "fork mode for node was accepted"; return 1; }
	[[ $out == *"--mode fork is not available for node"* ]] || { echo "node: $out"; return 1; }
	start_proxy --mode fork --warmup 3 || return 1
	init_action "$ACTIONS/counter.py" || return 1
	expect_run '{}' '.count == 4' || return 1
	expect_run '{}' '.count == 4' || return 1
	grep -q "fork mode: function pid [0-9]* is the template" "$PLOG" || { echo "no template in the log"; return 1; }
	stop_proxy || return 1
	cat >"$TMP/forked.py" <<'EOF'
import os
import subprocess


def main(args):
    if args.get("crash"):
        os._exit(3)
    r = {"pid": os.getpid(), "ppid": os.getppid()}
    if args.get("spawn"):
        r["child"] = subprocess.Popen(["sleep", "1000"], start_new_session=True).pid
    return r
EOF
	start_proxy --mode fork || return 1
	init_action "$TMP/forked.py" || return 1
	expect_run '{}' '.pid > 0 and .ppid > 0' || return 1
	pid1=$(jfield .pid) tpl=$(jfield .ppid)
	expect "the template's cgroup" "$(grep '^0::' "/proc/$tpl/cgroup")" "0::/rewind-proxy-$PORT/fn" || return 1
	expect_run '{"spawn":true}' ".ppid == $tpl and .pid != $pid1 and .child > 0" || return 1
	child=$(jfield .child)
	expect_run '{}' ".ppid == $tpl" || return 1
	gone "$child" || { echo "the process $child a child started outlived its activation"; return 1; }
	gone "$pid1" || { echo "the first child $pid1 still runs"; return 1; }
	run '{"crash":true}' || return 1
	expect "crash" "$CODE $BODY" '400 {"error":"command exited"}' || return 1
	gone "$tpl" || { echo "the template $tpl survived its child's crash"; return 1; }
	expect_run '{}' ".ppid != $tpl" || return 1
	grep -q "function pid $tpl ended during an activation (exit status 3)" "$PLOG" ||
		{ echo "no crash in the log: $(grep -v '^XXX' "$PLOG" | tail -3)"; return 1; }
}

# Every /run gets a fresh process (and dir): right answers, nothing left over.
test_proxy_restart_mode() {
	local pids=() i
	start_proxy --mode restart || return 1
	init_action "$ACTIONS/leak.py" || return 1
	for i in 1 2 3; do
		expect_run "{\"secret\":\"s$i\"}" '.found == {"global":null,"tmpfile":null,"workfile":null,"env":null}' ||
			return 1
		pids+=("$(jfield .pid)")
	done
	expect "distinct pids" "$(printf '%s\n' "${pids[@]}" | sort -u | wc -l)" 3 || return 1
	! grep -q "session [0-9]*: function pid" "$PLOG" || { echo "restart mode used rewindd"; return 1; }
}

# --warmup N runs before the checkpoint: the first activation sees N calls
# made, and (rewind) so does the next one; insecure mode counts on.
test_proxy_warmup_before_checkpoint() {
	start_proxy --warmup 3 || return 1
	init_action "$ACTIONS/counter.py" || return 1
	expect_run '{}' '.count == 4' || return 1
	expect_run '{}' '.count == 4' || return 1
	stop_proxy || return 1
	start_proxy --warmup 3 --mode insecure || return 1
	init_action "$ACTIONS/counter.py" || return 1
	expect_run '{}' '.count == 4' || return 1
	expect_run '{}' '.count == 5'
}

# --warmup-input is what the warm-up calls get (the state the checkpoint
# holds), and no activation's input outlives it; a value that is not a
# JSON object is refused at start.
test_proxy_warmup_input() {
	local out rc
	start_proxy --warmup 2 || return 1
	init_action "$ACTIONS/counter.py" || return 1
	expect_run '{}' '.count == 3 and .tag == null' || return 1
	stop_proxy || return 1
	start_proxy --warmup 2 --warmup-input '{"tag": "warm",
		"n": 1}' || return 1
	init_action "$ACTIONS/counter.py" || return 1
	expect_run '{}' '.count == 3 and .tag == "warm"' || return 1
	expect_run '{"tag":"alice"}' '.count == 3 and .tag == "alice"' || return 1
	expect_run '{}' '.count == 3 and .tag == "warm"' || return 1
	stop_proxy || return 1
	out=$("$PROXY" --port 0 --warmup-input '[1]' 2>&1)
	rc=$?
	expect "exit status of a bad --warmup-input" "$rc" 2 || return 1
	grep -q -- "--warmup-input: a JSON object" <<<"$out" || { echo "no reason: $out"; return 1; }
}

# The process is settled before it is kept: Python's collector counters are
# zero at the checkpoint (not the 600 containers the module left), in every
# activation of rewind mode and in the first of insecure mode.
test_proxy_settled_gc() {
	start_proxy || return 1
	init_action "$ACTIONS/gcstate.py" || return 1
	expect_run '{}' '.kept == 600 and .gen0 < 300' || return 1
	expect_run '{}' '.kept == 600 and .gen0 < 300' || return 1
	stop_proxy || return 1
	start_proxy --mode insecure || return 1
	init_action "$ACTIONS/gcstate.py" || return 1
	expect_run '{}' '.kept == 600 and .gen0 < 300'
}

# Requests that arrive together are served one at a time, each with its own answer.
test_proxy_requests_one_at_a_time() {
	local i pids=()
	start_proxy || return 1
	init_action "$ACTIONS/hello.py" || return 1
	for i in $(seq 8); do
		curl -sS --max-time 120 -X POST --data-binary "{\"value\":{\"name\":\"n$i\"}}" \
			"http://127.0.0.1:$PORT/run" >"$TMP/par.$i" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { echo "request $((i + 1)) failed"; return 1; }
	done
	for i in $(seq 8); do
		expect "answer $i" "$(jq -r .greeting "$TMP/par.$i")" "hello n$i" || return 1
	done
	expect "activations logged" "$(grep -c '^XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX$' "$PLOG")" 8
}

# Rewind mode without a rewindd: /init fails (502), nothing runs un-rewound.
test_proxy_no_rewindd_502() {
	SOCK=$TMP/nothing.sock start_proxy || return 1
	jq -n --rawfile code "$ACTIONS/hello.py" '{value: {code: $code}}' >"$TMP/init.json"
	post /init "@$TMP/init.json" || return 1
	expect "/init status" "$CODE" 502 || return 1
	[[ $(jfield .error) == "cannot start action: rewindd attach"*"cannot connect to rewindd at $TMP/nothing.sock"* ]] ||
		{ echo "/init: $BODY"; return 1; }
	expect "processes in the function's cgroup" "$(cat "$CGROOT/rewind-proxy-$PORT/fn/cgroup.procs")" "" || return 1
	run '{}' || return 1
	expect "/run" "$CODE" 403
}

# SIGTERM while a function hangs: the proxy kills it (and its child), answers,
# detaches, removes its cgroup and exits 0 at once, not at the time limit.
test_proxy_sigterm_during_activation() {
	local child='' t0 rc curl_pid
	start_proxy --timeout 600 || return 1
	init_action "$ACTIONS/hang.py" || return 1
	curl -sS --max-time 120 -o "$TMP/hung.body" -w '%{http_code}' -X POST \
		--data-binary '{"value":{"hang":true}}' "http://127.0.0.1:$PORT/run" >"$TMP/hung.code" 2>/dev/null &
	curl_pid=$!
	# A bounded poll until the function logged its child (it is then in the activation).
	t0=$SECONDS
	while [ -z "$child" ]; do
		[ $((SECONDS - t0)) -lt 60 ] || { echo "the activation did not start"; return 1; }
		child=$(sed -n 's/^hang: child pid \([0-9]*\)$/\1/p' "$POUT")
	done
	t0=$SECONDS
	stop_proxy || return 1
	[ $((SECONDS - t0)) -lt 30 ] || { echo "the proxy took $((SECONDS - t0)) s to stop"; return 1; }
	gone "$child" || { echo "the function's child $child survived"; return 1; }
	wait "$curl_pid"
	rc=$(cat "$TMP/hung.code")
	# Answered 502, or the connection closed by the stop: never left hanging.
	[ "$rc" = 502 ] || [ "$rc" = 000 ] || { echo "the hung request got $rc"; return 1; }
	expect "rewindd sessions left" "$("$CTL" status --json | jq '.sessions | length')" 0
}

# traced_by PID: the processes PID traces (their TracerPid), one a line.
traced_by() {
	grep -ls "^TracerPid:[[:space:]]*$1\$" /proc/[0-9]*/status | cut -d/ -f3
}

# SIGTERM right after a /run was answered in rewind mode, while the function
# is being rewound (it wrote 64 MiB and has threads, so the rewind lasts):
# the proxy still exits 0 within stop_proxy's bound, nothing of the function
# is left (not even a zombie traced by rewindd), its cgroup is gone, and
# rewindd holds neither a session nor a tracee. Where in the rewind the
# signal lands varies: four rounds.
test_proxy_sigterm_during_rewind() {
	local round
	for round in 1 2 3 4; do
		sigterm_during_rewind || { echo "(round $round)"; return 1; }
	done
}

sigterm_during_rewind() {
	local pid left
	cat >"$TMP/dirty.py" <<'EOF'
import os
import threading

MEM = bytearray(64 << 20)
EVENT = threading.Event()
THREADS = [threading.Thread(target=EVENT.wait, daemon=True) for _ in range(32)]
for t in THREADS:
    t.start()


def main(args):
    for i in range(0, len(MEM), 4096):
        MEM[i] = (MEM[i] + 1) & 0xff
    return {"pid": os.getpid()}
EOF
	start_proxy || return 1
	init_action "$TMP/dirty.py" || return 1
	expect_run '{}' '.pid > 0' || return 1
	pid=$(jfield .pid)
	# The signal at once, by the shell that ran curl: the worker is rewinding the function now.
	curl -sS --max-time 120 -o /dev/null -X POST --data-binary '{"value":{}}' \
		"http://127.0.0.1:$PORT/run" && kill -TERM "$PROXY_PID"
	proxy_stopped || return 1
	[ ! -e "/proc/$pid" ] ||
		{ echo "function pid $pid is left: $(grep -E '^(State|TracerPid)' "/proc/$pid/status" | tr '\n' ' ')"; return 1; }
	left=$(traced_by "$DAEMON_PID")
	[ -z "$left" ] || { echo "rewindd still traces $left"; return 1; }
	expect "rewindd sessions left" "$("$CTL" status --json | jq '.sessions | length')" 0
}

# A stop that waits on a rewindd that does not answer (stopped here, in the
# middle of the rewind after a /run) ends at a second SIGTERM: the proxy
# exits 1 at once, the function killed, its cgroup and dir removed.
test_proxy_second_sigterm() {
	local pid rc=0
	start_proxy -v || return 1
	init_action "$ACTIONS/hello.py" || return 1
	expect_run '{}' '.pid > 0' || return 1
	pid=$(jfield .pid)
	# The proxy rewinds after it answers: that rewind must be over before
	# rewindd stops, or the next run waits for it.
	wait_rewinds 1 || return 1
	kill -STOP "$DAEMON_PID"
	expect_run '{}' ".pid == $pid" || rc=1
	kill -TERM "$PROXY_PID"
	# Until the first one is taken (the proxy logs it; tail follows the file).
	timeout 60 grep -q -m1 "Terminated: stopping" <(tail -n +1 -f --pid="$PROXY_PID" "$PLOG") ||
		{ kill -CONT "$DAEMON_PID"; echo "the stop was not logged"; return 1; }
	[ $rc = 0 ] && kill -TERM "$PROXY_PID"
	timeout 30 tail --pid="$PROXY_PID" -f /dev/null || rc=1
	kill -CONT "$DAEMON_PID"
	[ $rc = 0 ] || { echo "the proxy did not stop at a second SIGTERM"; return 1; }
	wait "$PROXY_PID"
	expect "exit status after a second SIGTERM" "$?" 1 || return 1
	PROXY_PID=
	gone "$pid" || { echo "function pid $pid survived"; return 1; }
	[ ! -d "$CGROOT/rewind-proxy-$PORT" ] || { echo "cgroup rewind-proxy-$PORT left behind"; return 1; }
	[ ! -d "$WORK/action" ] || { echo "$WORK/action left behind"; return 1; }
	grep -q "stopped at once" "$PLOG" || { echo "not in the log: $(tail -3 "$PLOG")"; return 1; }
}

proxy_run_tests
