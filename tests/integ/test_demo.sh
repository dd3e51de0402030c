#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The README's main command, make demo (tests/demo/demo.sh), end to end: in
# insecure mode bob sees alice's secret and the audit finds her token in the
# function's files (the leak), in rewind mode he sees nothing and the audit
# finds it nowhere.
cd "$(dirname "$0")/../.." || exit 1
OUTPUT=${OUTPUT:-build}
[ "$(id -u)" = 0 ] || { echo "SKIP demo: needs root"; exit 0; }
[ -x /usr/bin/python3 ] || { echo "SKIP demo: /usr/bin/python3 is missing"; exit 0; }
log=$(mktemp /var/tmp/rewindd-demo-test.XXXXXX)
trap 'rm -f "$log"' EXIT
if ! OUTPUT=$OUTPUT timeout 600 tests/demo/demo.sh >"$log" 2>&1; then
	echo "FAIL demo: demo.sh failed: $(tail -3 "$log" | tr '\n' ' ')"
	exit 0
fi
check() {	# NAME REGEX: a line of the demo's output matches
	if grep -qE "$2" "$log"; then echo "PASS $1"; else echo "FAIL $1: no line matching '$2'"; fi
}
check demo_insecure_leaks "^-> bob saw alice's secret \(global, file and environment\)$"
check demo_insecure_audit_finds_token 'after invocation 1: [1-9][0-9]* place\(s\) in memory, [1-9][0-9]* in files$'
check demo_rewind_isolates "^-> bob saw nothing of alice"
check demo_rewind_audit_clean 'after invocation 2: 0 place\(s\) in memory, 0 in files$'
