// SPDX-License-Identifier: GPL-2.0-only
// sandbox.py for node: writes {"secret"} to /tmp/{"name"}, returns what was
// there before, its uid and NoNewPrivs.
const fs = require('fs');

function read(path) {
	try {
		return fs.readFileSync(path, 'utf8');
	} catch (e) {
		return null;
	}
}

function main(args) {
	const tmp = '/tmp/' + args.name;
	const nnp = /^NoNewPrivs:\s*(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
	const r = { seen: read(tmp), uid: process.getuid(), nnp: nnp ? Number(nnp[1]) : null,
		tmpdir: process.env.TMPDIR, pid: process.pid };
	if (args.secret !== undefined)
		fs.writeFileSync(tmp, args.secret);
	return r;
}
