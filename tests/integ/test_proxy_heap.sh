#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# In rewind and insecure modes the proxy's settle turns glibc malloc's trim
# off in the function (launcher.py through ctypes, launcher.js through
# launcher_native.node): a heap trimmed during an activation is grown back by
# the rewind, and the part it grows back is restored whole ("pages_wholesale"
# in the rewind's counts). tests/proxy/trimfn.py frees 4 MiB at the top of
# its heap in every request; with the trim off the break stays, and so do
# the rewinds' whole-page restores. The twins: a request that asks malloc to
# trim again shows the break going down and the rewind restoring the span
# whole (and verified), in insecure mode the break going down.
# With --warmup 2 or more the trim goes off before the last warm-up request,
# so the checkpoint holds the heap a request grows to: requests that take 4
# MiB more ({"grow": true}) move no break; the twin, without a warm-up,
# moves it up in every request (and every rewind moves it back).
# Every rewind runs --verify.
cd "$(dirname "$0")/../.." || exit 1
. tests/integ/lib.sh
. tests/integ/proxy_lib.sh
# trimfn.py's 64 blocks of 64 KiB are 1,024 pages; a trim keeps malloc's top
# pad (128 KiB): at least this many go, in pages.
SPAN=960

TESTS=(proxy_heap_kept_python proxy_heap_trimmed_restored_whole proxy_heap_insecure_keeps
       proxy_heap_insecure_trims_when_told proxy_heap_grown_at_checkpoint
       proxy_heap_grows_without_warmup proxy_heap_kept_node)
proxy_preflight curl jq node /usr/bin/python3

# The rewinds' counts (rewind-proxy --verbose), one JSON object a line.
rewind_counts() {
	sed -n 's/.*rewound: \({.*}\)$/\1/p' "$PLOG"
}

# serve_trimfn MODE REQUEST [PROXY OPTION...]: trimfn.py, five requests of
# REQUEST; what each answered in TRIMMED and GROWN.
serve_trimfn() {
	local i mode=$1 req=$2
	shift 2
	start_proxy --mode "$mode" --verbose "$@" || return 1
	init_action "$ACTIONS/trimfn.py" || return 1
	for i in 1 2 3 4 5; do
		run "$req" || return 1
		[ "$CODE" = 200 ] || { echo "/run $req: status $CODE, body $BODY"; return 1; }
		TRIMMED+=" $(jq -r .trimmed <<<"$BODY")"
		GROWN+=" $(jq -r .grown <<<"$BODY")"
	done
}

# At least five rewinds counted (a restart instead of a rewind counts none).
five_rewinds() {
	local n
	n=$(rewind_counts | jq -s length)
	[ "$n" -ge 5 ] || { echo "$n rewinds counted, 5 expected"; return 1; }
}

# The proxy logged that the launcher turned the trim off.
heap_kept_logged() {
	grep -q "settled: the function's malloc keeps its heap" "$PLOG" ||
		{ echo "no 'keeps its heap' line: $(grep -m1 settled "$PLOG")"; return 1; }
}

# Every value of the list $2 at least $SPAN (pages), else says so as $1.
each_span() {
	local t
	for t in $2; do
		[ "$t" -ge "$SPAN" ] 2>/dev/null || { echo "$1:$2, each at least $SPAN expected"; return 1; }
	done
}

# ---- tests ----------------------------------------------------------------------

test_proxy_heap_kept_python() {
	local n
	TRIMMED=
	serve_trimfn rewind '{}' || return 1
	expect "pages trimmed in each request" "$TRIMMED" " 0 0 0 0 0" || return 1
	heap_kept_logged || return 1
	n=$(rewind_counts | jq -s "map(select(.pages_wholesale >= $SPAN)) | length")
	expect "rewinds that restored the heap's span whole" "$n" 0 || return 1
	five_rewinds
}

# The twin: malloc told to trim again (a request's mallopt, undone by its
# rewind like the rest of its memory): the break goes down by the span in
# every request and every rewind restores it whole, byte for byte.
test_proxy_heap_trimmed_restored_whole() {
	local n
	TRIMMED=
	serve_trimfn rewind '{"trim": true}' || return 1
	each_span "pages trimmed" "$TRIMMED" || return 1
	n=$(rewind_counts | jq -s "map(select(.pages_wholesale >= $SPAN)) | length")
	[ "$n" -ge 5 ] || { echo "$n rewinds restored the span whole, 5 expected: $(rewind_counts | tail -1)"; return 1; }
}

# Insecure mode keeps the heap too: the two modes differ by the rewind alone.
test_proxy_heap_insecure_keeps() {
	TRIMMED=
	serve_trimfn insecure '{}' || return 1
	expect "pages trimmed in each request" "$TRIMMED" " 0 0 0 0 0" || return 1
	heap_kept_logged
}

# The twin: told to trim, insecure mode's process gives the span back.
test_proxy_heap_insecure_trims_when_told() {
	TRIMMED=
	serve_trimfn insecure '{"trim": true}' || return 1
	each_span "pages trimmed" "$TRIMMED"
}

# Trim off before the last of two warm-up requests that grow the heap: the
# checkpoint holds the grown heap, and no request moves the break.
test_proxy_heap_grown_at_checkpoint() {
	GROWN=
	serve_trimfn rewind '{"grow": true}' --warmup 2 --warmup-input '{"grow": true}' || return 1
	expect "pages the break rose for the extra blocks" "$GROWN" " 0 0 0 0 0" || return 1
	five_rewinds
}

# The twin: without a warm-up the checkpoint's heap is the loaded one; every
# request grows it by the span and every rewind (verified) cuts it back.
test_proxy_heap_grows_without_warmup() {
	GROWN=
	serve_trimfn rewind '{"grow": true}' || return 1
	each_span "pages the break rose for the extra blocks" "$GROWN" || return 1
	five_rewinds
}

# Node's launcher does it through its addon: its settle answer says so.
test_proxy_heap_kept_node() {
	[ -f "$OUTPUT/proxy/launcher_native.node" ] ||
		{ echo "$OUTPUT/proxy/launcher_native.node not built (make builds it where /usr/include/node/node_api.h exists)"; return 77; }
	start_proxy --runtime node --verbose || return 1
	init_action "$ACTIONS/hello.js" || return 1
	expect_run '{"name": "heap"}' '.greeting != null' || return 1
	heap_kept_logged
}

proxy_run_tests
