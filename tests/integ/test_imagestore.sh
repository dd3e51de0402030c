#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The image page store: identical pages of sessions are stored once, each
# session still gets its own checkpoint back, detaching frees, the limit
# refuses cleanly. The targets check their memory themselves (a sum of
# their region), so a page shared wrongly shows even where --verify, which
# compares with the image, could not.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

TESTS=(image_pages_shared_each_rewound image_changes_leak_without_rewind
       image_detach_frees image_one_byte_apart_not_shared image_limit_refuses
       image_sharing_off image_heap_merged_with_bss_rewound image_heap_grows_without_rewind
       image_packed_each_rewound)
only_tests IMAGE_ONLY
require_root "${TESTS[@]}"
start_daemon --image-sharing || { for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done; exit 0; }

# status_of SESSION KEY: a number of one session in `status --json`.
status_of() {
	rwctl status --json | jq -r ".sessions[] | select(.session == $1) | .$2"
}

store_of() {
	rwctl status --json | jq -r ".image_store.$1"
}

# Two processes of the sharepages scenario, A (seed 1, checkpointed first:
# its image holds the pages both have) and B (seed 2), each its own session.
start_pair() {
	start_target sharepages 1 || return 1
	SUM_A=${READY##* }
	# (bash warns that the first coprocess still runs: it does, on purpose)
	start_fn "$TARGET" sharepages 2 2>/dev/null || return 1
	SUM_B=${READY##* }
	A=$(rwctl attach --pid "$TPID") && rwctl checkpoint "$A" >/dev/null || return 1
	B=$(rwctl attach --pid "$FPID") && rwctl checkpoint "$B" >/dev/null || return 1
}

# check_sums: each target's own sum of its region is its checkpoint's.
check_sums() {
	ask check || return 1
	expect "A's region after its rewind" "$ANSWER" "sum $SUM_A" || return 1
	fn_ask check || return 1
	expect "B's region after its rewind" "$ANSWER" "sum $SUM_B"
}

image_pages_shared_each_rewound() {
	local shared unique_b bytes_b
	start_pair || return 1
	# Beyond the 49 pages of the region, the two processes' libraries and stacks match too.
	shared=$(store_of shared_bytes)
	[ "$shared" -ge $((49 * 4096)) ] || { echo "store shares $shared bytes, want >= 49 pages"; return 1; }
	bytes_b=$(status_of "$B" image_bytes)
	unique_b=$(status_of "$B" image_unique_bytes)
	[ "$unique_b" -le $((bytes_b - 49 * 4096)) ] ||
		{ echo "B: $unique_b of $bytes_b image bytes its own, want <= $((bytes_b - 49 * 4096))"; return 1; }
	# Both write into the pages they share, differently; each rewind gives each its own.
	invoke || return 1
	fn_ask go || return 1
	rwctl rewind "$A" --verify >/dev/null || return 1
	invoke || return 1
	rwctl rewind "$B" --verify >/dev/null || return 1
	rwctl rewind "$A" --verify >/dev/null || return 1
	check_sums
}

# The twin: without a rewind, the writes stay (the sums above would see them).
image_changes_leak_without_rewind() {
	start_pair || return 1
	invoke || return 1
	fn_ask go || return 1
	ask check || return 1
	[ "$ANSWER" != "sum $SUM_A" ] || { echo "A's writes left no trace in its sum"; return 1; }
	fn_ask check || return 1
	[ "$ANSWER" != "sum $SUM_B" ] || { echo "B's writes left no trace in its sum"; return 1; }
}

# A goes first, holding the pages B uses: they move, B still rewinds to its own.
image_detach_frees() {
	local both after_a
	start_pair || return 1
	both=$(store_of bytes)
	rwctl detach "$A" >/dev/null || return 1
	after_a=$(store_of bytes)
	# A's 14 pages of its own at least went; what both held stayed for B.
	[ "$after_a" -le $((both - 14 * 4096)) ] ||
		{ echo "store held $both bytes, $after_a after A's detach: want 14 pages fewer"; return 1; }
	# Only B's pages are left: each used once, or twice (the page it holds twice).
	expect "store after A's detach" "$after_a" \
		"$(($(status_of "$B" image_unique_bytes) + $(store_of shared_bytes)))" || return 1
	fn_ask go || return 1
	rwctl rewind "$B" --verify >/dev/null || return 1
	fn_ask check || return 1
	expect "B's region after its rewind" "$ANSWER" "sum $SUM_B" || return 1
	rwctl detach "$B" >/dev/null || return 1
	expect "store after the last detach" "$(store_of bytes)" 0
}

# Page 48 differs from page 0 in one byte: were it shared, a rewind would give it page 0's.
image_one_byte_apart_not_shared() {
	local sid
	start_target sharepages 3 || return 1
	SUM_A=${READY##* }
	sid=$(rwctl attach --pid "$TPID") && rwctl checkpoint "$sid" >/dev/null || return 1
	invoke || return 1
	rwctl rewind "$sid" --verify >/dev/null || return 1
	ask check || return 1
	expect "the region after its rewind" "$ANSWER" "sum $SUM_A"
}

image_limit_refuses() {
	local sock=$TMP/limited.sock sid
	start_extra_daemon limited --max-image-memory 64K || return 1
	start_target sharepages 4 || return 1
	sid=$(REWINDD_SOCKET=$sock rwctl attach --pid "$TPID") || return 1
	REWINDD_SOCKET=$sock expect_error "over --max-image-memory: .* MiB allowed" \
		"$CTL" checkpoint "$sid" || return 1
	# Nothing held, still serving, the process runs on.
	expect "store after the refusal" "$(REWINDD_SOCKET=$sock rwctl status --json | jq .image_store.bytes)" 0 || return 1
	invoke || return 1
	expect_error "no checkpoint" env REWINDD_SOCKET="$sock" "$CTL" rewind "$sid"
}

image_sharing_off() {
	local sock=$TMP/apart.sock a b st
	start_extra_daemon apart || return 1
	start_target sharepages 5 || return 1
	start_fn "$TARGET" sharepages 5 2>/dev/null || return 1
	a=$(REWINDD_SOCKET=$sock rwctl attach --pid "$TPID") || return 1
	b=$(REWINDD_SOCKET=$sock rwctl attach --pid "$FPID") || return 1
	REWINDD_SOCKET=$sock rwctl checkpoint "$a" >/dev/null || return 1
	REWINDD_SOCKET=$sock rwctl checkpoint "$b" >/dev/null || return 1
	st=$(REWINDD_SOCKET=$sock rwctl status --json | jq -c .image_store)
	expect "shared bytes without sharing" "$(jq .shared_bytes <<<"$st")" 0 || return 1
	expect "store bytes without sharing" "$(jq .bytes <<<"$st")" "$(jq .logical_bytes <<<"$st")"
}

# Held packed (--image-packing): the pages a rewind copies back are unpacked
# for good, the rest stay packed, each session still gets its own checkpoint
# back (the twin: image_changes_leak_without_rewind).
image_packed_each_rewound() {
	local -x REWINDD_SOCKET=$TMP/packed.sock
	local st out
	# The restorer copies even a few pages: it reads them from the store mapped in the target.
	(export REWINDD_RESTORER=always; start_extra_daemon packed --image-sharing --image-packing) ||
		return 1
	start_pair || return 1
	invoke || return 1
	fn_ask go || return 1
	# Mapped at the checkpoint, packed or not yet: the first rewind copies from it.
	out=$(rwctl rewind "$A" --verify --json) || return 1
	[ "$(jq .rewind.pages_restorer <<<"$out")" -ge 11 ] ||
		{ echo "A's first rewind: $(jq -c .rewind <<<"$out"): want >= 11 pages by the restorer"; return 1; }
	st=$(rwctl status --settle --json | jq -c .image_store)
	expect "pages left to pack after status --settle" "$(jq .pages_to_pack <<<"$st")" 0 || return 1
	# The region's 64 pages pack (a pattern), but for the 11 A's rewind used, and most of the rest.
	[ "$(jq .packed_pages <<<"$st")" -ge 53 ] || { echo "store $st: want >= 53 pages packed"; return 1; }
	# B's target (A's too, if the packing ended after its rewind) maps its old store still.
	[ "$(jq .superseded_bytes <<<"$st")" -gt 0 ] ||
		{ echo "store $st: the stores packed since are mapped in their targets, want them counted"; return 1; }
	invoke || return 1
	# B's pages that A holds are copied from here (A's store is not B's to map); its own by the restorer.
	out=$(rwctl rewind "$B" --verify --json) || return 1
	[ "$(jq .rewind.pages_restorer <<<"$out")" -gt 0 ] ||
		{ echo "B's rewind: $(jq -c .rewind <<<"$out"): want its own pages by the restorer"; return 1; }
	# Its old store replaced by the packed one: the restorer reads that one now.
	out=$(rwctl rewind "$A" --verify --json) || return 1
	[ "$(jq .rewind.pages_restorer <<<"$out")" -ge 11 ] ||
		{ echo "A's rewind: $(jq -c .rewind <<<"$out"): want >= 11 pages by the restorer"; return 1; }
	check_sums || return 1
	st=$(rwctl status --json | jq -c .image_store)
	expect "old stores still mapped after each target's rewind" "$(jq .superseded_bytes <<<"$st")" 0 ||
		return 1
	[ "$(jq .bytes <<<"$st")" -lt "$(jq '.content_bytes / 2' <<<"$st")" ] ||
		{ echo "store $st: packed, it should take less than half its content"; return 1; }
	rwctl detach "$A" >/dev/null && rwctl detach "$B" >/dev/null || return 1
	st=$(rwctl status --json | jq -c .image_store)
	expect "store bytes after the last detach" "$(jq .bytes <<<"$st")" 0 || return 1
	expect "packed bytes after the last detach" "$(jq .packed_bytes <<<"$st")" 0
}

# What rewind-proxy --shared-images starts functions with: no address
# randomisation, so the break starts right after the bss, and arming write
# protection at the checkpoint merges the bss vma and the heap's (/proc
# calls the merged vma [heap]). The rewind must see the checkpoint's two
# vmas in it, not a layout changed under it.
start_unrandomized_heap() {
	local TARGET=setarch real=$TARGET
	start_target -R "$real" heap 6 || return 1
	HEAP=${READY#ready }
}

# The vma holding ADDR starts below it: the heap and the bss are one vma.
merged_below() {
	local a=$((16#$1)) range s e
	while read -r range _; do
		s=$((16#${range%-*})) e=$((16#${range#*-}))
		if [ "$s" -le "$a" ] && [ "$a" -lt "$e" ]; then
			[ "$s" -lt "$a" ] && echo merged || echo apart
		fi
	done <"/proc/$TPID/maps"
}

image_heap_merged_with_bss_rewound() {
	local sid first out
	start_unrandomized_heap || return 1
	sid=$(rwctl attach --pid "$TPID") && rwctl checkpoint "$sid" >/dev/null || return 1
	for i in 1 2 3; do
		invoke || return 1
		set -- $DONE
		[ -n "${first:-}" ] || first=$2
		expect "invocation $i: where the break grew from" "$2" "$first" || return 1
		expect "invocation $i: the heap's vma" "$(merged_below "$HEAP")" merged || return 1
		out=$(rwctl rewind "$sid" --verify --json 2>&1) || { echo "rewind $i: $out"; return 1; }
		expect "rewind $i: pages restored whole (a layout rebuilt)" \
			"$(jq .rewind.pages_wholesale <<<"$out")" 0 || return 1
	done
}

image_heap_grows_without_rewind() {
	local first
	start_unrandomized_heap || return 1
	invoke || return 1
	set -- $DONE
	first=$2
	invoke || return 1
	set -- $DONE
	expect "second invocation's break" "$2" "$(printf %x $((16#$first + 6 * 4096)))"
}

for t in "${TESTS[@]}"; do
	run_test "$t" fn_case "$t"
done
stop_daemon
