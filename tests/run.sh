#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs every test: cmocka unit and library tests, then the integration
# scripts against a real rewindd. Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
export OUTPUT

pass=0 fail=0 skip=0
failed_names=()

# ASan reports go to files, where a test that swallows a program's stderr
# cannot lose them; each file is a failure. UBSan ignores log_path: the
# daemons' --log-file (tests/integ/lib.sh) catches theirs.
SAN_DIR=$(mktemp -d /tmp/rewindd-sanitizer.XXXXXX) || exit 1
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SAN_DIR/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$SAN_DIR/ubsan"

# cmocka speaks TAP when asked: count its ok / not ok / # SKIP lines.
run_cmocka() {
	local bin=$1 out line
	out=$(CMOCKA_MESSAGE_OUTPUT=TAP "$bin" 2>&1)
	local rc=$?
	local counted=0
	while IFS= read -r line; do
		case "$line" in
		*"ok "*"# SKIP"*) skip=$((skip + 1)); counted=1; echo "SKIP $(basename "$bin"): ${line#*ok }" ;;
		"ok "*) pass=$((pass + 1)); counted=1 ;;
		"not ok "*) fail=$((fail + 1)); counted=1; failed_names+=("$(basename "$bin"): ${line#not ok }")
			echo "FAIL $(basename "$bin"): ${line#not ok }" ;;
		esac
	done <<<"$out"
	if [ $counted = 0 ] || { [ $rc != 0 ] && ! grep -v '# SKIP' <<<"$out" | grep -q '^not ok'; }; then
		fail=$((fail + 1)); failed_names+=("$(basename "$bin") (exit $rc)")
		echo "FAIL $(basename "$bin"): exited $rc"
		printf '%s\n' "$out" | tail -20
	elif grep -v '# SKIP' <<<"$out" | grep -q '^not ok'; then
		printf '%s\n' "$out" | grep -v '^ok ' | tail -40
	fi
}

# Integration scripts print PASS/FAIL/SKIP lines of their own.
run_script() {
	local script=$1 line
	while IFS= read -r line; do
		echo "$line"
		case "$line" in
		PASS*) pass=$((pass + 1)) ;;
		FAIL*) fail=$((fail + 1)); failed_names+=("${line#FAIL }") ;;
		SKIP*) skip=$((skip + 1)) ;;
		esac
	done < <(bash "$script" 2>&1)
}

echo "== unit tests"
for t in "$OUTPUT"/tests/unit/test_*; do
	[ -x "$t" ] && run_cmocka "$t"
done
echo "== library tests (real processes)"
for t in "$OUTPUT"/tests/lib/test_*; do
	[ -x "$t" ] || continue
	if [ "$(id -u)" != 0 ]; then
		skip=$((skip + 1)); echo "SKIP $(basename "$t"): needs root (ptrace, userfaultfd of other processes)"
		continue
	fi
	run_cmocka "$t"
done
echo "== integration tests (rewindd, BPF)"
for s in tests/integ/test_*.sh; do
	run_script "$s"
done

for f in "$SAN_DIR"/*; do
	[ -e "$f" ] || continue
	fail=$((fail + 1)); failed_names+=("sanitizer report $(basename "$f")")
	echo "FAIL sanitizer report $(basename "$f"):"
	head -60 "$f"
done
rm -rf "$SAN_DIR"

echo
for n in "${failed_names[@]}"; do echo "failed: $n"; done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
