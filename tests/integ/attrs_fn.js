// SPDX-License-Identifier: GPL-2.0-only
// A Node function that changes its nice value during an invocation
// (os.setPriority). Lines in, one answer out each: "get" says "nice=N",
// "set" adds 5 and says "done".
'use strict';
const os = require('os');
const readline = require('readline');

console.log('ready');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
	const cmd = line.trim();
	if (cmd === 'exit')
		process.exit(0);
	if (cmd === 'get') {
		console.log('nice=' + os.getPriority());
	} else if (cmd === 'set') {
		os.setPriority(os.getPriority() + 5);
		console.log('done');
	} else {
		console.log('error ' + cmd);
	}
});
