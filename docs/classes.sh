#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The class tables of README.md and docs/ARCHITECTURE.md are generated from
# user/lib/rewind/classes.c through `rewindctl classes`, between the lines
#   <!-- classes: FORMAT -->  and  <!-- end classes -->
# where FORMAT is markdown or markdown-brief.
#   docs/classes.sh REWINDCTL           rewrite them
#   docs/classes.sh REWINDCTL --check   exit 1 (with a diff) when they differ
set -euo pipefail
cd "$(dirname "$0")/.."
ctl=${1:?usage: docs/classes.sh REWINDCTL [--check]}
check=${2:-}
status=0
for doc in README.md docs/ARCHITECTURE.md; do
	grep -q '^<!-- classes: ' "$doc" || { echo "$doc: no '<!-- classes: FORMAT -->' marker" >&2; exit 1; }
	new=$(mktemp)
	awk -v ctl="$ctl" '
		/^<!-- classes: [a-z-]+ -->$/ {
			print; fmt = $3; skipping = 1
			cmd = ctl " classes --" fmt
			while ((cmd | getline line) > 0) print line
			if (close(cmd) != 0) { print "rewindctl classes failed" > "/dev/stderr"; exit 1 }
			next
		}
		/^<!-- end classes -->$/ { skipping = 0 }
		!skipping { print }
	' "$doc" >"$new"
	if [ "$check" = --check ]; then
		diff -u "$doc" "$new" || status=1
		rm -f "$new"
	else
		cat "$new" >"$doc"
		rm -f "$new"
	fi
done
exit $status
