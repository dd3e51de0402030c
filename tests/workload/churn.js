// SPDX-License-Identifier: GPL-2.0-only
'use strict';
/*
 * A Node function whose heap churns: each invocation builds about MB
 * megabytes of strings, objects and Buffers and drops them, so V8 maps,
 * unmaps and re-protects its heap pages and glibc's brk heap grows and
 * shrinks (Buffers come from malloc). Protocol, one line each way:
 *
 *   -> ready
 *   <- run MB TOKEN    churn MB megabytes; answer the token the previous
 *   -> was PREV SUM    invocation left (or "none") and a checksum of the
 *                      churned data, then keep TOKEN for the next one
 *   <- exit
 *
 * Without a rewind PREV is the previous request's token: state leaks from
 * one invocation into the next. Rewound to a checkpoint taken after
 * "ready", every invocation answers "none".
 */
const fs = require('fs');

let last = 'none';	// what one invocation leaves for the next

function churn(mb) {
	const target = mb << 20;
	let kept = [], size = 0, sum = 0, round = 0;

	while (size < target) {
		// Strings (V8 heap), objects holding them, Buffers (malloc: brk and mmap).
		const s = `row-${round}-`.repeat(64 + (round % 200));
		const o = { id: round, name: s, tags: [s.length, round & 7, s.slice(0, 16)] };
		const b = Buffer.alloc(512 + (round % 64) * 1024, round & 0xff);
		kept.push(o, b);
		size += s.length * 2 + b.length + 64;
		sum = (sum + s.length + b[b.length - 1] + o.tags[1]) % 1000000007;
		// Drop in waves: old space fills and is collected within one invocation.
		if (kept.length > 4096)
			kept = kept.slice(2048);
		round++;
	}
	kept = null;
	return sum;
}

function say(text) {
	fs.writeSync(1, text + '\n');
}

// One line from stdin with read(2), byte by byte: nothing is read ahead.
const ONE = Buffer.alloc(1);
function readLine() {
	const bytes = [];
	for (;;) {
		let n;
		try {
			n = fs.readSync(0, ONE, 0, 1, null);
		} catch (e) {
			if (e.code === 'EAGAIN' || e.code === 'EINTR')
				continue;
			throw e;
		}
		if (n === 0)
			return bytes.length ? String.fromCharCode(...bytes) : null;
		if (ONE[0] === 0x0a)
			return String.fromCharCode(...bytes);
		bytes.push(ONE[0]);
	}
}

// Warm the code paths (and the JIT) before the checkpoint.
for (let i = 0; i < 3; i++)
	churn(8);
say('ready');
for (let line; (line = readLine()) !== null;) {
	const w = line.split(/\s+/).filter(Boolean);
	if (!w.length)
		continue;
	if (w[0] === 'exit')
		break;
	if (w[0] !== 'run' || w.length !== 3 || !(Number(w[1]) > 0)) {
		say(`error usage: run MB TOKEN`);
		continue;
	}
	const sum = churn(Number(w[1]));
	say(`was ${last} ${sum}`);
	last = w[2];
}
process.exit(0);
