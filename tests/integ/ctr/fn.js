// SPDX-License-Identifier: GPL-2.0-only
'use strict';
/*
 * A function for a container (run with /usr/bin/node as the container's
 * command); the protocol of fn.py: "ready threads=N children=N", then
 * "plant TOKEN" -> "planted" (a global, process.env, /tmp/fn-secret, a
 * worker_threads Worker that keeps running, a child left running with TOKEN
 * in its argv), "probe TOKEN" -> "global=0|1 env=0|1 tmp=0|1 threads=N
 * children=N seccomp=N uid=N", "exit". The main thread stays synchronous: it
 * blocks in read(2) on stdin between invocations.
 */
const fs = require('fs');
const childProcess = require('child_process');
const { Worker } = require('worker_threads');

const TMPFILE = '/tmp/fn-secret';
const HELD = [];
let secret = null;

const WORKER = `
const { workerData } = require('worker_threads');
globalThis.held = workerData.token;
const flag = new Int32Array(workerData.flag);
Atomics.store(flag, 0, 1);
Atomics.notify(flag, 0);
setInterval(() => {}, 1 << 30);
`;

function tasks() {
	return fs.readdirSync('/proc/self/task');
}

function children() {
	let n = 0;
	for (const t of tasks()) {
		try {
			n += fs.readFileSync(`/proc/self/task/${t}/children`, 'latin1').split(/\s+/).filter(Boolean).length;
		} catch (e) {
			// the thread ended meanwhile
		}
	}
	return n;
}

function seccomp() {
	const m = /^Seccomp:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'latin1'));
	return m ? Number(m[1]) : -1;
}

function plant(token) {
	secret = token;
	process.env.FN_SECRET = token;
	fs.writeFileSync(TMPFILE, token);
	const flag = new Int32Array(new SharedArrayBuffer(4));
	HELD.push(new Worker(WORKER, { eval: true, workerData: { token, flag: flag.buffer } }));
	// Synchronous main thread: wait on shared memory until the worker runs.
	if (Atomics.wait(flag, 0, 0, 30000) === 'timed-out')
		throw new Error('worker did not start');
	const child = childProcess.spawn('/bin/sh', ['-c', 'read x', 'fn-child', token],
					 { stdio: ['pipe', 'ignore', 'ignore'] });
	if (!child.pid)
		throw new Error('spawn failed');
	HELD.push(child);
}

function probe(token) {
	let tmp = 0;
	try {
		tmp = fs.readFileSync(TMPFILE, 'latin1').includes(token) ? 1 : 0;
	} catch (e) {
		if (e.code !== 'ENOENT')
			throw e;
	}
	return `global=${secret === token ? 1 : 0} env=${process.env.FN_SECRET === token ? 1 : 0} ` +
		`tmp=${tmp} threads=${tasks().length} children=${children()} ` +
		`seccomp=${seccomp()} uid=${process.getuid()}`;
}

function say(text) {
	fs.writeSync(1, text + '\n');
}

// One line from stdin with read(2), byte by byte: nothing read ahead is
// left in a buffer across an invocation.
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

probe('warm');
say(`ready threads=${tasks().length} children=${children()}`);
for (let line; (line = readLine()) !== null;) {
	const words = line.split(/\s+/).filter(Boolean);
	if (!words.length)
		continue;
	if (words[0] === 'exit')
		break;
	try {
		if (words[0] === 'plant' && words.length === 2) {
			plant(words[1]);
			say('planted');
		} else if (words[0] === 'probe' && words.length === 2) {
			say(probe(words[1]));
		} else {
			say(`error unknown request: ${line}`);
		}
	} catch (e) {
		say(`error ${e.message}`);
	}
}
process.exit(0);
