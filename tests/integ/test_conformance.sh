#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# rewind-proxy against the OpenWhisk action-interface cases of the upstream
# runtimes' test suites (tests/conformance: the tables name their sources),
# each case in a fresh proxy in every isolation mode, and rewind mode
# answering exactly as insecure mode does. OW_ONLY=REGEX picks cases.
cd "$(dirname "$0")/../.." || exit 1
. tests/integ/lib.sh
TESTS=(conformance)
. tests/integ/proxy_lib.sh
proxy_preflight curl jq node
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 is missing"

if ! start_daemon --state-dir "$TMP/state"; then
	echo "FAIL conformance: rewindd did not start"
	exit 0
fi
# Node's runtime image ships the openwhisk package: make npm-deps installs it here.
[ -d "$PWD/$OUTPUT/npm/node_modules/openwhisk" ] && export NODE_MODULES=$PWD/$OUTPUT/npm/node_modules
/usr/bin/python3 tests/conformance/run.py --proxy "$PROXY" --socket "$SOCK" --root "$PROXY_ROOT" \
	--only "${OW_ONLY:-}" --modes "${OW_MODES:-rewind,insecure,restart,fork}" tests/conformance/basic.json tests/conformance/python.json tests/conformance/node.json
trouble=$(daemon_trouble)
[ -z "$trouble" ] || echo "FAIL conformance_rewindd: $trouble"
