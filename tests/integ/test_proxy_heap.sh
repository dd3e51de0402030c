#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# In rewind mode the proxy's settle turns glibc malloc's trim off in the
# function (launcher.py through ctypes, launcher.js through
# launcher_native.node): a heap trimmed during an activation is grown back by
# the rewind, and the part it grows back is restored whole ("pages_wholesale"
# in the rewind's counts). tests/proxy/trimfn.py frees 4 MiB at the top of
# its heap in every request; with the trim off the break stays, and so do
# the rewinds' whole-page restores. The twins: a request that asks malloc to
# trim again shows the break going down and the rewind restoring the span
# whole (and verified), and insecure mode, which keeps malloc's default.
# Every rewind runs --verify.
cd "$(dirname "$0")/../.." || exit 1
. tests/integ/lib.sh
. tests/integ/proxy_lib.sh
# trimfn.py's 64 blocks of 64 KiB are 1,024 pages; a trim keeps malloc's top
# pad (128 KiB): at least this many go, in pages.
SPAN=960

TESTS=(proxy_heap_kept_python proxy_heap_trimmed_restored_whole proxy_heap_insecure_trims
       proxy_heap_kept_node)
proxy_preflight curl jq node /usr/bin/python3

# The rewinds' counts (rewind-proxy --verbose), one JSON object a line.
rewind_counts() {
	sed -n 's/.*rewound: \({.*}\)$/\1/p' "$PLOG"
}

# serve_trimfn MODE REQUEST: trimfn.py, five requests of REQUEST.
serve_trimfn() {
	local i
	start_proxy --mode "$1" --verbose || return 1
	init_action "$ACTIONS/trimfn.py" || return 1
	for i in 1 2 3 4 5; do
		run "$2" || return 1
		[ "$CODE" = 200 ] || { echo "/run $2: status $CODE, body $BODY"; return 1; }
		TRIMMED+=" $(jq -r .trimmed <<<"$BODY")"
	done
}

# ---- tests ----------------------------------------------------------------------

test_proxy_heap_kept_python() {
	local n
	TRIMMED=
	serve_trimfn rewind '{}' || return 1
	expect "pages trimmed in each request" "$TRIMMED" " 0 0 0 0 0" || return 1
	grep -q "settled: the function's malloc keeps its heap" "$PLOG" ||
		{ echo "no 'keeps its heap' line: $(grep -m1 settled "$PLOG")"; return 1; }
	n=$(rewind_counts | jq -s "map(select(.pages_wholesale >= $SPAN)) | length")
	expect "rewinds that restored the heap's span whole" "$n" 0 || return 1
	n=$(rewind_counts | jq -s length)
	[ "$n" -ge 5 ] || { echo "$n rewinds counted, 5 expected"; return 1; }
}

# The twin: malloc told to trim again (a request's mallopt, undone by its
# rewind like the rest of its memory): the break goes down by the span in
# every request and every rewind restores it whole, byte for byte.
test_proxy_heap_trimmed_restored_whole() {
	local t n
	TRIMMED=
	serve_trimfn rewind '{"trim": true}' || return 1
	for t in $TRIMMED; do
		[ "$t" -ge "$SPAN" ] || { echo "pages trimmed:$TRIMMED, each at least $SPAN expected"; return 1; }
	done
	n=$(rewind_counts | jq -s "map(select(.pages_wholesale >= $SPAN)) | length")
	[ "$n" -ge 5 ] || { echo "$n rewinds restored the span whole, 5 expected: $(rewind_counts | tail -1)"; return 1; }
}

# Insecure mode keeps malloc's default: a trim gives the memory back there.
test_proxy_heap_insecure_trims() {
	local t
	TRIMMED=
	serve_trimfn insecure '{}' || return 1
	for t in $TRIMMED; do
		[ "$t" -ge "$SPAN" ] || { echo "pages trimmed:$TRIMMED, each at least $SPAN expected"; return 1; }
	done
	! grep -q "keeps its heap" "$PLOG" || { echo "insecure mode turned the trim off"; return 1; }
}

# Node's launcher does it through its addon: its settle answer says so.
test_proxy_heap_kept_node() {
	[ -f "$OUTPUT/proxy/launcher_native.node" ] ||
		{ echo "$OUTPUT/proxy/launcher_native.node not built (make builds it where /usr/include/node/node_api.h exists)"; return 77; }
	start_proxy --runtime node --verbose || return 1
	init_action "$ACTIONS/hello.js" || return 1
	expect_run '{"name": "heap"}' '.greeting != null' || return 1
	grep -q "settled: the function's malloc keeps its heap" "$PLOG" ||
		{ echo "no 'keeps its heap' line: $(grep -m1 settled "$PLOG")"; return 1; }
}

proxy_run_tests
