#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Randomness after a rewind, for C programs: memory marked MADV_WIPEONFORK
# reads zero after every rewind, as in a forked child, so a generator that
# keeps its state there (BoringSSL, LibreSSL's arc4random) reseeds.
# tests/integ/wipeonfork keeps a generator's state and its "seeded" word in
# one page of its own.
#
#   wipeonfork_rewind      the page is MADV_WIPEONFORK: checkpoint, then five
#       invocations each followed by rewind --verify; the five draws are
#       pairwise different, every invocation after a rewind found the page
#       wiped and reseeded from getrandom, and the page is still wf.
#   wipeonfork_plain_replays  its twin: the same generator in ordinary
#       memory draws the same number five times (the rewind replays it).
#   wipeonfork_kept_rewind an invocation clears the flag (MADV_KEEPONFORK):
#       the rewind (--verify) puts it back, and the next invocation reseeds.
#   wipeonfork_set_rewind  an invocation sets the flag on ordinary memory:
#       the rewind (--verify) clears it, and the state is the checkpoint's.
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

WOF=$PWD/$OUTPUT/tests/integ/wipeonfork
N=5

need_daemon() {
	[ "$(id -u)" = 0 ] || { echo "needs root (BPF, ptrace)"; return 77; }
	[ -n "$DAEMON_PID" ] || { echo "rewindd did not start"; return 1; }
	[ -x "$WOF" ] || { echo "$WOF not built"; return 1; }
}

# start_wof wf|plain: the generator, checkpointed; session id in SID.
start_wof() {
	start_fn "$WOF" "$1" || return 1
	case "$READY" in
	"ready "*" $2") ;;
	*) echo "wipeonfork $1 said '$READY', want its page's wf flag to be $2"; return 1 ;;
	esac
	fn_attach_checkpoint
}

# draws MODE: N invocations, each followed by rewind --verify; answers in DRAWS.
draws() {
	local i
	DRAWS=()
	for ((i = 1; i <= N; i++)); do
		fn_ask go || return 1
		case "$ANSWER" in "done "*) ;; *) echo "invocation $i answered '$ANSWER'"; return 1 ;; esac
		DRAWS+=("${ANSWER#done }")
		fn_rewind_verify "invocation $i" || return 1
	done
}

wipeonfork_rewind() {
	need_daemon || return $?
	local i distinct
	start_wof wf 1 || return 1
	draws || return 1
	distinct=$(printf '%s\n' "${DRAWS[@]%% *}" | sort -u | wc -l)
	expect "distinct draws of $N rewound invocations (${DRAWS[*]})" "$distinct" "$N" || return 1
	expect "invocation 1 (before any rewind) used the checkpoint's seed" "${DRAWS[0]#* }" 0 || return 1
	for ((i = 1; i < N; i++)); do
		expect "invocation $((i + 1)) found the page wiped and reseeded" "${DRAWS[i]#* }" 1 ||
			return 1
	done
	fn_ask flag || return 1
	expect "the page after $N rewinds" "$ANSWER" "wf 1" || return 1
	timeout 300 "$CTL" detach "$SID" >/dev/null || { echo "detach failed"; return 1; }
}

wipeonfork_plain_replays() {
	need_daemon || return $?
	local distinct
	start_wof plain 0 || return 1
	draws || return 1
	distinct=$(printf '%s\n' "${DRAWS[@]}" | sort -u | wc -l)
	expect "distinct answers of $N rewound invocations (${DRAWS[*]})" "$distinct" 1 || return 1
	expect "the replayed answer" "${DRAWS[0]#* }" 0 || return 1
	timeout 300 "$CTL" detach "$SID" >/dev/null || { echo "detach failed"; return 1; }
}

wipeonfork_kept_rewind() {
	need_daemon || return $?
	start_wof wf 1 || return 1
	fn_ask keep || return 1
	case "$ANSWER" in "done "*" 0") ;; *) echo "keep answered '$ANSWER'"; return 1 ;; esac
	fn_ask flag || return 1
	expect "the page after MADV_KEEPONFORK, before the rewind" "$ANSWER" "wf 0" || return 1
	fn_rewind_verify "after MADV_KEEPONFORK" || return 1
	fn_ask flag || return 1
	expect "the page after the rewind" "$ANSWER" "wf 1" || return 1
	fn_ask go || return 1
	case "$ANSWER" in "done "*" 1") ;; *) echo "after the rewind: '$ANSWER', want a reseed"; return 1 ;; esac
	fn_rewind_verify "after the reseed" || return 1
	timeout 300 "$CTL" detach "$SID" >/dev/null || { echo "detach failed"; return 1; }
}

wipeonfork_set_rewind() {
	need_daemon || return $?
	local first
	start_wof plain 0 || return 1
	fn_ask wipe || return 1
	case "$ANSWER" in "done "*" 0") first=$ANSWER ;; *) echo "wipe answered '$ANSWER'"; return 1 ;; esac
	fn_ask flag || return 1
	expect "the page after MADV_WIPEONFORK, before the rewind" "$ANSWER" "wf 1" || return 1
	fn_rewind_verify "after MADV_WIPEONFORK" || return 1
	fn_ask flag || return 1
	expect "the page after the rewind" "$ANSWER" "wf 0" || return 1
	fn_ask go || return 1
	expect "the draw after the rewind (the checkpoint's state, not wiped)" "$ANSWER" "$first" ||
		return 1
	fn_rewind_verify "after the draw" || return 1
	timeout 300 "$CTL" detach "$SID" >/dev/null || { echo "detach failed"; return 1; }
}

if [ "$(id -u)" = 0 ]; then
	start_daemon || echo "rewindd did not start" >&2
fi
run_test wipeonfork_plain_replays fn_case wipeonfork_plain_replays
run_test wipeonfork_rewind fn_case wipeonfork_rewind
run_test wipeonfork_kept_rewind fn_case wipeonfork_kept_rewind
run_test wipeonfork_set_rewind fn_case wipeonfork_set_rewind
