#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The isolation contract (user/lib/rewind/classes.c): `rewindctl classes`
# prints it without a daemon, and the tables of README.md and
# docs/ARCHITECTURE.md are exactly what it prints (make docs regenerates them).
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

TESTS=(classes_docs_match classes_without_daemon classes_formats_agree classes_ids_unique
       classes_option_misuse)
only_tests ONLY

# A socket nobody listens on: the command must not need one.
NO_DAEMON=(env REWINDD_SOCKET=/nonexistent/rewindd.sock)

classes_docs_match() {
	docs/classes.sh "$CTL" --check >"$TMP/docs.diff" 2>&1 ||
		{ echo "a class table differs from rewindctl classes (run make docs): $(head -20 "$TMP/docs.diff")"; return 1; }
}

classes_without_daemon() {
	local out
	out=$("${NO_DAEMON[@]}" "$CTL" classes) || { echo "rewindctl classes exited $?"; return 1; }
	grep -q '^private memory (per process): restored$' <<<"$out" ||
		{ echo "no 'private memory' class in: $(head -3 <<<"$out")"; return 1; }
	grep -q '^credentials: .*(per thread): fails closed$' <<<"$out" ||
		{ echo "credentials are not said to fail closed"; return 1; }
}

# Text, JSON and both tables list the same classes, in the same order.
classes_formats_agree() {
	local json text md brief
	json=$("${NO_DAEMON[@]}" "$CTL" --json classes | jq -r '.[].class' | tr -d '`')
	[ "$(wc -l <<<"$json")" -ge 15 ] || { echo "too few classes in --json: $json"; return 1; }
	text=$("${NO_DAEMON[@]}" "$CTL" classes | grep -v '^ \|^$' | sed 's/ (per [^)]*): .*//')
	md=$("${NO_DAEMON[@]}" "$CTL" classes --markdown | tail -n +3 | cut -d'|' -f2 | sed 's/^ //; s/ (`[a-z_]*`) $//' | tr -d '`')
	brief=$("${NO_DAEMON[@]}" "$CTL" classes --markdown-brief | tail -n +3 | cut -d'|' -f2 | sed 's/^ //; s/ $//' | tr -d '`')
	expect "text classes" "$text" "$json" && expect "markdown classes" "$md" "$json" &&
		expect "brief markdown classes" "$brief" "$json"
}

# Reports name a changed class by its id: one id, one class.
classes_ids_unique() {
	local dup
	dup=$("${NO_DAEMON[@]}" "$CTL" --json classes | jq -r '.[].id' | sort | uniq -d)
	expect "ids named twice" "$dup" ""
}

classes_option_misuse() {
	local out rc
	out=$("$CTL" status --markdown 2>&1); rc=$?
	expect "exit of status --markdown" "$rc" 2 || return 1
	grep -q 'go with classes' <<<"$out" || { echo "said: $out"; return 1; }
	out=$("$CTL" classes extra 2>&1); rc=$?
	expect "exit of classes extra" "$rc" 2
}

for t in "${TESTS[@]}"; do
	run_test "$t" "$t"
done
