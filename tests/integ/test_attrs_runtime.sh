#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Process attributes changed by a runtime's own API during an invocation
# (tests/integ/attrs_fn.{py,js}): Python's os.setpriority,
# resource.setrlimit (RLIMIT_NOFILE lowered) and os.sched_setaffinity, Node's
# os.setPriority. The value itself is what leaks, so the next invocation
# reads it back:
#   attrs_LANG_norewind  without rewindd the next invocation sees the change
#   attrs_LANG_rewind    attach, checkpoint, change, rewind --verify, twice:
#                        the next invocation sees the checkpoint's values
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

LANGS=(py js)

fn_command() {
	case $1 in
	py) [ -x /usr/bin/python3 ] || { echo "/usr/bin/python3 is missing"; return 77; }
	    FN_CMD=(/usr/bin/python3 -I "$PWD/tests/integ/attrs_fn.py") ;;
	js) [ -x /usr/bin/node ] || { echo "/usr/bin/node is missing"; return 77; }
	    FN_CMD=(/usr/bin/node "$PWD/tests/integ/attrs_fn.js") ;;
	esac
}

attrs_norewind() {
	local want
	fn_command "$1" || return $?
	start_fn "${FN_CMD[@]}" || return 1
	fn_ask get || return 1
	want=$ANSWER
	fn_ask set && expect "$1: set" "$ANSWER" done || return 1
	fn_ask get || return 1
	[ "$ANSWER" != "$want" ] || { echo "$1: the change did not show without a rewind: $ANSWER"; return 1; }
}

attrs_rewind() {
	local want cycle
	fn_command "$1" || return $?
	start_fn "${FN_CMD[@]}" || return 1
	fn_ask get || return 1
	want=$ANSWER
	fn_attach_checkpoint || return $?
	for cycle in 1 2; do
		fn_ask set && expect "$1: set" "$ANSWER" done || return 1
		fn_rewind_verify "$1: invocation $cycle" || return 1
		fn_ask get || return 1
		expect "$1: after rewind $cycle" "$ANSWER" "$want" || return 1
	done
	timeout 300 "$CTL" detach "$SID" >/dev/null || { echo "$1: detach failed"; return 1; }
}

if [ "$(id -u)" = 0 ]; then
	start_daemon || echo "rewindd did not start" >&2
fi
for l in "${LANGS[@]}"; do
	run_test "attrs_${l}_norewind" fn_case attrs_norewind "$l"
	run_test "attrs_${l}_rewind" fn_case attrs_rewind "$l"
done
