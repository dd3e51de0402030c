#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The rewind fast path (user/lib/control/fastpath.h): a binary rewind
# request and its answer frame, on the connection the JSON lines use. The
# client here packs the frames itself (struct), from the layout the header
# documents, not with the code under test.
#
#   fast_rewind_restores           a secret planted in a global is gone after a
#                                  fast rewind with the verify flag; the report of
#                                  the invocation (closed after the answer) is there
#   fast_rewind_leaks_without      the same function without the rewind still
#                                  holds it (the twin: this test can fail)
#   fast_frames_refused            bad frames, unknown or stale sessions get an
#                                  answer frame with the reason; JSON requests on
#                                  the same connection are still served; a frame
#                                  header out of range closes the connection
#   fast_rewind_unauthorised       a client that may not steer the session is
#                                  refused, as over JSON
cd "$(dirname "$0")/../.."
. tests/integ/lib.sh

TESTS=(fast_rewind_restores fast_rewind_leaks_without fast_frames_refused fast_rewind_unauthorised)
require_root "${TESTS[@]}"
start_daemon || { for t in "${TESTS[@]}"; do echo "FAIL $t: rewindd did not start"; done; exit 0; }
LEAK_BIN=$PWD/$OUTPUT/tests/leak/leak

# fast SOCKET [FRAME...]: each FRAME (session:key:instance:flags[:version[:size]]) sent on one
# connection, in turn; "json:LINE" sends a JSON line instead. One line per answer.
fast() {
	timeout 120 /usr/bin/python3 - "$@" <<'EOF'
import socket, struct, sys

def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b

s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
for req in sys.argv[2:]:
    if req.startswith("json:"):
        s.sendall(req[5:].encode() + b"\n")
        line = s.makefile("rb").readline()
        print("json " + line.decode().strip())
        continue
    f = req.split(":")
    session, key, inst, flags = int(f[0]), int(f[1]), f[2].encode(), int(f[3])
    version = int(f[4]) if len(f) > 4 else 3
    size = int(f[5]) if len(f) > 5 else 120
    try:
        s.sendall(struct.pack("<BBHIIIQ96s", 0xFA, version, size, flags, session, 0, key, inst))
        hdr = recvn(s, 16)
    except OSError:  # rewindd closed the connection
        hdr = None
    if hdr is None:
        print("closed")
        break
    magic, ver, asize, ok, elen, _ = struct.unpack("<BBHIII", hdr)
    if magic != 0xFA or ver != 3 or asize != 16 + 28 * 8 + 8:
        print("bad answer header %r" % hdr)
        break
    body = recvn(s, asize - 16)
    counts = struct.unpack("<15Q", body[:120])
    timing = struct.unpack("<13Q", body[120:224])
    sflags = struct.unpack("<I", body[224:228])[0]
    text = recvn(s, elen).decode() if elen else ""
    if ok:
        # counts: pages_restored, pages_copied, ...; timing: ..., total last; flags bit 1: verified
        print("ok restored=%d copied=%d verified=%d total_ns=%d" %
              (counts[0], counts[1], (sflags >> 1) & 1, timing[12]))
    else:
        print("refused: " + text)
EOF
}

# The C leak function, attached (session SID, its KEY, rewindd's INST) and
# checkpointed, then a secret planted in its global.
planted() {
	local out
	SECRET=$(random_secret) || { echo "no random secret"; return 1; }
	start_fn "$LEAK_BIN" || return 1
	out=$(rwctl --json attach --pid "$FPID") || { echo "attach failed: $out"; return 1; }
	read -r SID KEY INST < <(/usr/bin/python3 -c \
		'import json,sys; a=json.load(sys.stdin); print(a["session"], a["key"], a["instance"])' <<<"$out")
	[ -n "$INST" ] || { echo "attach answered: $out"; return 1; }
	out=$(rwctl checkpoint "$SID" 2>&1) || { echo "checkpoint failed: $out"; return 1; }
	fn_ask "plant global $SECRET" || return 1
	expect "plant" "$ANSWER" "done"
}

fast_rewind_restores() {
	local out
	planted || return $?
	out=$(fast "$SOCK" "$SID:0::1") || { echo "client failed: $out"; return 1; }
	[[ $out =~ ^ok\ restored=([0-9]+)\ copied=[0-9]+\ verified=1\ total_ns=[1-9] ]] ||
		{ echo "fast rewind answered: $out"; return 1; }
	[ "${BASH_REMATCH[1]}" -ge 1 ] || { echo "nothing restored: $out"; return 1; }
	fn_ask "search global $SECRET" || return 1
	expect "search after the fast rewind" "$ANSWER" clean || return 1
	# The report of the invocation it ended, closed after the answer, is there all the same.
	out=$(report_of "$SID" 1) || return 1
	[ "$(jq -r '.pages_written >= 1 and .complete' <<<"$out")" = true ] ||
		{ echo "report of the rewound invocation: $out"; return 1; }
}

fast_rewind_leaks_without() {
	planted || return $?
	fn_ask "search global $SECRET" || return 1
	case $ANSWER in
	found*global*) ;;
	*) echo "without a rewind the search answered: $ANSWER"; return 1 ;;
	esac
}

fast_frames_refused() {
	local out want line
	planted || return $?
	out=$(fast "$SOCK" "$SID:0::1:1" "77:0::1" "$SID:$((KEY + 1))::1" "$SID:$KEY:rwd-other:1" \
		"$SID:$KEY:$INST:8" "0:0::1" 'json:{"cmd":"status"}' "$SID:$KEY:$INST:1" "$SID:0::1:3:2" \
		"$SID:0::1") ||
		{ echo "client failed: $out"; return 1; }
	want=(
		"refused: fast-path version 1: this rewindd speaks 3"
		"refused: no session 77"
		"refused: session $SID is another session now"
		"refused: rewindd was restarted"
		"refused: fast-path rewind: unknown flags 0x8"
		"refused: session required"
		'json {"ok":true'
		"ok restored="
		"refused: malformed fast-path frame header"
	)
	for i in "${!want[@]}"; do
		line=$(sed -n "$((i + 1))p" <<<"$out")
		[[ $line == "${want[$i]}"* ]] || { echo "answer $((i + 1)): '$line', want '${want[$i]}...'"; return 1; }
	done
	[ "$(sed -n 10p <<<"$out")" = closed ] || { echo "still open after a bad header: $out"; return 1; }
	# The rewind among them was a real one: the secret is gone.
	fn_ask "search global $SECRET" || return 1
	expect "search after the fast rewind" "$ANSWER" clean || return 1
	"$CTL" status >/dev/null || { echo "rewindd stopped serving"; return 1; }
}

fast_rewind_unauthorised() {
	local gid id out
	getent group rwtest >/dev/null || groupadd -r rwtest || return 1
	gid=$(getent group rwtest | cut -d: -f3)
	start_extra_daemon fastgrp --group rwtest || return 1
	start_fn "$LEAK_BIN" || return 1
	id=$("$CTL" --socket "$TMP/fastgrp.sock" attach --pid "$FPID") || return 1
	"$CTL" --socket "$TMP/fastgrp.sock" checkpoint "$id" >/dev/null || return 1
	chmod 0711 "$TMP"
	out=$(setpriv --reuid=65534 --regid=65534 --groups="$gid" bash -c "$(declare -f fast); fast '$TMP/fastgrp.sock' '$id:0::1'")
	[[ $out == "refused: permission denied: session $id belongs to uid 0"* ]] ||
		{ echo "nobody's fast rewind of root's session answered: $out"; return 1; }
	out=$(fast "$TMP/fastgrp.sock" "$id:0::1")
	[[ $out == "ok restored="* ]] || { echo "root's fast rewind answered: $out"; return 1; }
}

for t in "${TESTS[@]}"; do
	run_test "$t" fn_case "$t"
done
