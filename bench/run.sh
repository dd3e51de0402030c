#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make bench: the tracker's overhead, then the copy-path study (bench/copypath),
# the end-to-end rewind benchmark (bench/rewind), file rollback
# (bench/fsrollback) and the image store with N warm sessions
# (bench/imagestore.py), each with its baselines measured side by side in one
# run. Configurations alternate round by round (this machine is shared and
# noisy); each figure is the median of the rounds. Nothing here asserts: it
# prints. BENCHES="overhead copypath rewind files images" (the default) picks which
# to run; COPY_REPS, REWIND_REPS, CKPT_REPS set their rounds.
set -u
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
RWD=$PWD/$OUTPUT/rewindd
CTL=$PWD/$OUTPUT/rewindctl
OVH=$PWD/$OUTPUT/bench/overhead
COPY=$PWD/$OUTPUT/bench/copypath
REW=$PWD/$OUTPUT/bench/rewind
FSR=$PWD/$OUTPUT/bench/fsrollback
BENCHES=${BENCHES:-overhead copypath rewind files images}
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

# Configurations, each measured once per round, in this order:
#   off        no rewindd at all
#   idle       rewindd running, nothing attached (programs are detached then)
#   untracked  rewindd tracking another process: this one is filtered out
#   tracked    this process attached in report mode
declare -A R
overhead() {
for ((r = 1; r <= ROUNDS; r++)); do
	for w in faults writes; do
		n=$FAULTS; [ $w = writes ] && n=$WRITES
		R[$w.off]+="$(measure $w $n) "
		daemon_on || exit 1
		R[$w.idle]+="$(measure $w $n) "
		sleep 3600 & other=$!
		oid=$("$CTL" --socket "$SOCK" attach --pid "$other" --report 2>/dev/null) || exit 1
		R[$w.untracked]+="$(measure $w $n) "
		"$CTL" --socket "$SOCK" detach "$oid" >/dev/null
		kill "$other"; wait "$other" 2>/dev/null
		R[$w.tracked]+="$(measure $w $n track) "
		daemon_off
	done
	R[memcpy]+="$(measure memcpy 200000) "
done

med() { tr ' ' '\n' <<<"${R[$1]}" | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

printf '\nrewindd tracker overhead: median of %d alternating rounds, ns per operation\n' "$ROUNDS"
printf '%-34s %8s %8s %9s %8s  %9s %9s %9s\n' workload off idle untracked tracked \
	idle/off untr/off trk/off
for w in faults writes; do
	off=$(med $w.off) idle=$(med $w.idle) un=$(med $w.untracked) tr_=$(med $w.tracked)
	label="page-fault loop (per fault)"; [ $w = writes ] && label="write(2) to /dev/null (per call)"
	printf '%-34s %8s %8s %9s %8s  %9s %9s %9s\n' "$label" "$off" "$idle" "$un" "$tr_" \
		"$(ratio "$idle" "$off")" "$(ratio "$un" "$off")" "$(ratio "$tr_" "$off")"
done
printf '%-34s %8s\n' "memcpy of one 4 KiB page" "$(med memcpy)"
echo "goals: untracked overhead <= 3% (faults), <= 5% (writes)"
}

has() { [[ " $BENCHES " == *" $1 "* ]]; }

if has overhead; then
	printf '\n=== tracker overhead (bench/overhead.c) ===\n'
	overhead
fi
if has copypath; then
	printf '\n=== copying pages back: which path (bench/copypath.c) ===\n'
	REPS=${COPY_REPS:-9} "$COPY" || echo "bench: copypath failed"
fi
if has rewind; then
	printf '\n=== rewind end to end through rewindd (bench/rewind.c) ===\n'
	daemon_on || exit 1
	REPS=${REWIND_REPS:-15} CKPT_REPS=${CKPT_REPS:-5} "$REW" "$SOCK" || echo "bench: rewind failed"
	daemon_off
fi
if has files; then
	printf '\n=== file rollback of a watched tree (bench/fsrollback.c) ===\n'
	"$FSR" || echo "bench: fsrollback failed"
fi
if has images; then
	printf '\n=== image store with N warm sessions (bench/imagestore.py) ===\n'
	OUTPUT=$OUTPUT /usr/bin/python3 bench/imagestore.py || echo "bench: imagestore failed"
fi
