#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make bench: the tracker's overhead, measured side by side in one run.
# Configurations alternate round by round (this machine is shared and noisy);
# each figure is the median of the rounds. Nothing here asserts: it prints.
set -u
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
RWD=$PWD/$OUTPUT/rewindd
CTL=$PWD/$OUTPUT/rewindctl
OVH=$PWD/$OUTPUT/bench/overhead
ROUNDS=${ROUNDS:-7}
FAULTS=${FAULTS:-262144}
WRITES=${WRITES:-2000000}

[ "$(id -u)" = 0 ] || { echo "bench: needs root (BPF)"; exit 1; }
TMP=$(mktemp -d /tmp/rewindd-bench.XXXXXX)
SOCK=$TMP/rewindd.sock
DPID=
trap '[ -n "$DPID" ] && kill $DPID 2>/dev/null; rm -rf "$TMP"' EXIT

daemon_on() { "$RWD" --socket "$SOCK" --pidfile "$TMP/pid" && DPID=$(cat "$TMP/pid"); }
daemon_off() { kill "$DPID"; tail --pid="$DPID" -f /dev/null; DPID=; }

# measure WORKLOAD N [track]: one measurement in a fresh process; "track" attaches it first.
measure() {
	local id= out
	coproc B { exec "$OVH" "$1" "$2"; }
	read -r _ <&"${B[0]}"
	if [ "${3:-}" = track ]; then
		id=$("$CTL" --socket "$SOCK" attach --pid "$B_PID" --report) || return 1
	fi
	echo go >&"${B[1]}"
	read -r out <&"${B[0]}"
	[ -n "$id" ] && "$CTL" --socket "$SOCK" detach "$id" >/dev/null
	echo exit >&"${B[1]}"
	wait "$B_PID"
	echo "$out"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A R
for ((r = 1; r <= ROUNDS; r++)); do
	for w in faults writes; do
		n=$FAULTS; [ $w = writes ] && n=$WRITES
		R[$w.off]+="$(measure $w $n) "
		daemon_on || exit 1
		R[$w.untracked]+="$(measure $w $n) "
		R[$w.tracked]+="$(measure $w $n track) "
		daemon_off
	done
	R[memcpy]+="$(measure memcpy 200000) "
done

printf '\nrewindd tracker overhead (median of %d alternating rounds, ns per operation)\n' "$ROUNDS"
printf '%-32s %10s %10s %10s %9s %9s\n' workload "no rewindd" untracked tracked "untr/off" "trk/off"
for w in faults writes; do
	off=$(tr ' ' '\n' <<<"${R[$w.off]}" | grep . | median)
	un=$(tr ' ' '\n' <<<"${R[$w.untracked]}" | grep . | median)
	tr_=$(tr ' ' '\n' <<<"${R[$w.tracked]}" | grep . | median)
	label="page-fault loop (per fault)"; [ $w = writes ] && label="write(2) to /dev/null (per call)"
	printf '%-32s %10s %10s %10s %9s %9s\n' "$label" "$off" "$un" "$tr_" \
		"$(awk -v a="$un" -v b="$off" 'BEGIN { printf "%.3f", a / b }')" \
		"$(awk -v a="$tr_" -v b="$off" 'BEGIN { printf "%.3f", a / b }')"
done
printf '%-32s %10s\n' "memcpy of one 4 KiB page" "$(tr ' ' '\n' <<<"${R[memcpy]}" | grep . | median)"
echo "goals: untracked overhead <= 3% (faults), <= 5% (writes)"
