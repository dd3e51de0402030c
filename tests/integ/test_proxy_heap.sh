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
# Before the checkpoint the settle also gives the kernel back the free top of
# the heap, the break kept (--heap-release): the image stores none of the
# garbage the last warm-up request freed there, and each request that writes
# there again is zero-filled back by its rewind; the twin, --heap-release 0,
# stores it and copies it back at every rewind; a bad --heap-release is refused.
# trimfn.py's 64 blocks of 64 KiB are 1,024 pages; a trim keeps malloc's top
# pad (128 KiB) and the settle's release may leave as much again free above
# the break it keeps: at least this many go (or come), in pages.
SPAN=896

TESTS=(proxy_heap_kept_python proxy_heap_trimmed_restored_whole proxy_heap_insecure_keeps
       proxy_heap_insecure_trims_when_told proxy_heap_grown_at_checkpoint
       proxy_heap_grows_without_warmup proxy_heap_free_top_released proxy_heap_free_top_kept
       proxy_heap_kept_node)
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

# The image bytes of the proxy's one rewindd session.
session_image_bytes() {
	"$CTL" status --json | jq '[.sessions[] | .image_bytes] | add'
}

# The last warm-up request frees 4 MiB at the top of the heap: the settle
# gives those pages back with the break kept, so the image is smaller than
# the twin's by the span, no request moves the break, and every rewind
# zero-fills (not copies) what the request wrote there.
test_proxy_heap_free_top_released() {
	local n
	GROWN=
	serve_trimfn rewind '{"grow": true}' --warmup 2 --warmup-input '{"grow": true}' || return 1
	grep -Eq "settled: [0-9]+ KiB of malloc's free heap given back" "$PLOG" ||
		{ echo "no release logged: $(grep settled "$PLOG" | tail -2)"; return 1; }
	n=$(sed -n "s/.*settled: \([0-9]*\) KiB of malloc's free heap given back.*/\1/p" "$PLOG")
	[ "$n" -ge $((SPAN * 4)) ] || { echo "$n KiB given back, at least $((SPAN * 4)) expected"; return 1; }
	expect "pages the break rose for the extra blocks" "$GROWN" " 0 0 0 0 0" || return 1
	n=$(rewind_counts | jq -s "map(select(.pages_zero_filled >= $SPAN)) | length")
	[ "$n" -ge 5 ] || { echo "$n rewinds zero-filled the span, 5 expected: $(rewind_counts | tail -1)"; return 1; }
	echo "$(session_image_bytes)" >"$TMP/released_image_bytes"
}

# The twin: --heap-release 0 keeps the garbage; the image holds the span and
# every rewind copies it back, besides the held blocks every request rewrites.
test_proxy_heap_free_top_kept() {
	local n released bad out rc
	GROWN=
	serve_trimfn rewind '{"grow": true}' --warmup 2 --warmup-input '{"grow": true}' --heap-release 0 || return 1
	! grep -q "free heap given back" "$PLOG" || { echo "released with --heap-release 0"; return 1; }
	n=$(rewind_counts | jq -s "map(select(.pages_copied >= 2 * $SPAN and .pages_zero_filled < $SPAN)) | length")
	[ "$n" -ge 5 ] || { echo "$n rewinds copied the span back, 5 expected: $(rewind_counts | tail -1)"; return 1; }
	released=$(cat "$TMP/released_image_bytes" 2>/dev/null) ||
		{ echo "no image size from proxy_heap_free_top_released to compare with"; return 1; }
	n=$(session_image_bytes)
	[ "$n" -ge $((released + SPAN * 4096)) ] ||
		{ echo "image $n bytes, with the release $released: at least $SPAN pages more expected"; return 1; }
	for bad in -1 1025 8x; do
		out=$("$PROXY" --port 0 --heap-release "$bad" 2>&1)
		rc=$?
		expect "exit status of --heap-release $bad" "$rc" 2 || return 1
		grep -q -- "--heap-release: MiB (0 to 1024), not $bad" <<<"$out" || { echo "no reason: $out"; return 1; }
	done
}

# Node's launcher does both through its addon: its settle answers say so.
test_proxy_heap_kept_node() {
	[ -f "$OUTPUT/proxy/launcher_native.node" ] ||
		{ echo "$OUTPUT/proxy/launcher_native.node not built (make builds it where /usr/include/node/node_api.h exists)"; return 77; }
	start_proxy --runtime node --verbose || return 1
	init_action "$ACTIONS/hello.js" || return 1
	expect_run '{"name": "heap"}' '.greeting != null' || return 1
	heap_kept_logged || return 1
	# Its releaseFree ran: it gave some back, or found too little free to.
	grep -Eq "settled: ([0-9]+ KiB of malloc's free heap given back|none of malloc's free heap given back: [0-9]+ free bytes)" "$PLOG" ||
		{ echo "no release by the addon: $(grep settled "$PLOG" | tail -1)"; return 1; }
}

proxy_run_tests
