// SPDX-License-Identifier: GPL-2.0-only
'use strict';
/*
 * A "serverless function" in Node with one careless persistence point per
 * scenario; run it with /usr/bin/node. Same protocol as leak.c:
 *
 *   -> ready                    after a warm-up of every code path
 *   <- plant SCENARIO HEX       invocation 1: keep the secret in SCENARIO
 *   -> done
 *   <- search SCENARIO HEX      invocation 2: look for the secret
 *   -> found WHERE[,WHERE...] | clean
 *   <- exit
 *
 * Scenarios: global (module-level Map), heap (Buffers and strings created
 * and dropped), env (process.env), thread (a worker_threads Worker holding
 * it), child (a child_process with the secret in its argv), fd (an unlinked
 * file in /tmp kept open), helper (a helper process started at init, before the
 * checkpoint, that keeps what it is sent; search asks it). Whatever the scenario, search looks everywhere:
 * the Map, process.env (getenv), /proc/self/environ, new threads, children
 * (cmdline, environ, memory), regular files behind every fd and every private
 * writable mapping (/proc/self/mem).
 *
 * After the warm-up the main thread is synchronous: it blocks in read(2) on
 * stdin between invocations (a simple state to checkpoint), and the worker
 * reports that it holds the secret through Atomics on shared memory.
 *
 * How the search avoids finding its own key: the secret (32 bytes) travels
 * as hex and search never builds its plain bytes. It keeps the first half
 * plain (head, a Buffer) and the second half only XOR 0xff, as an array of
 * numbers (tail). A hit is head found with Buffer.indexOf, followed by 16
 * bytes whose XOR 0xff equals tail, compared one number at a time. Nothing
 * the search does can put head and the plain second half side by side, so a
 * hit is a copy made by the plant, and no region has to be left out of the
 * scan. "search" of a secret never planted answering "clean" (the test
 * checks it) shows this holds.
 */
const fs = require('fs');
const childProcess = require('child_process');
const { Worker } = require('worker_threads');

const LEN = 32;
const HALF = 16;
const CHUNK = 8 << 20;
const MAX_HITS = 8;

const CACHE = new Map();	// "global": a module-level warm cache
const HELD = {};		// what plant leaves running: worker, child, fd
const READ = Buffer.allocUnsafeSlow(CHUNK);	// memory and file contents
let baselineTasks = new Set();

const WORKER = `
const { workerData } = require('worker_threads');
globalThis.held = Buffer.from(workerData.secret, 'latin1');
globalThis.heldText = workerData.secret;
const flag = new Int32Array(workerData.flag);
Atomics.store(flag, 0, 1);
Atomics.notify(flag, 0);
setInterval(() => {}, 1 << 30);
`;

class Key {
	constructor(hex) {
		if (!/^[0-9a-fA-F]{64}$/.test(hex))
			throw new Error('need 64 hex digits');
		this.head = Buffer.alloc(HALF);
		this.tail = [];
		for (let i = 0; i < HALF; i++)
			this.head[i] = parseInt(hex.substr(2 * i, 2), 16);
		for (let i = HALF; i < LEN; i++)
			this.tail.push(0xff ^ parseInt(hex.substr(2 * i, 2), 16));
	}

	// Offset of the secret in buf[from, end), or -1.
	find(buf, from, end) {
		const view = end === buf.length ? buf : buf.subarray(0, end);
		for (let i = view.indexOf(this.head, from); i !== -1; i = view.indexOf(this.head, i + 1)) {
			if (i + LEN > end)
				break;
			let j = 0;
			while (j < HALF && view[i + HALF + j] === (this.tail[j] ^ 0xff))
				j++;
			if (j === HALF)
				return i;
		}
		return -1;
	}

	within(data) {
		if (data === undefined || data === null)
			return false;
		const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
		return this.find(buf, 0, buf.length) !== -1;
	}
}

function readOr(path, fallback) {
	try {
		return fs.readFileSync(path);
	} catch (e) {
		return fallback;
	}
}

class Search {
	constructor(key) {
		this.key = key;
		this.places = [];
		this.memHits = 0;
	}

	hit(place) {
		this.places.push(String(place).replace(/[ ,]/g, '_'));
	}

	scanMemory(pid, prefix) {
		let maps, fd;
		try {
			maps = fs.readFileSync(`/proc/${pid}/maps`, 'latin1').split('\n');
			fd = fs.openSync(`/proc/${pid}/mem`, 'r');
		} catch (e) {
			this.hit(`${prefix}unreadable:${e.code}`);
			return;
		}
		try {
			for (const line of maps) {
				const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+ *(.*)$/.exec(line);
				if (!m || m[3][1] !== 'w' || m[3][3] !== 'p')
					continue;
				const start = parseInt(m[1], 16), end = parseInt(m[2], 16);
				const name = m[4] || 'anon';
				let pos = start;
				while (pos < end) {
					const want = Math.min(CHUNK, end - pos);
					let got = 0;
					try {
						got = fs.readSync(fd, READ, 0, want, pos);
					} catch (e) {
						got = 0;
					}
					if (got <= 0) {	// unreadable page: skip it
						pos = pos - (pos % 4096) + 4096;
						continue;
					}
					for (let off = this.key.find(READ, 0, got); off !== -1;
					     off = this.key.find(READ, off + 1, got)) {
						if (++this.memHits <= MAX_HITS)
							this.hit(`${prefix}mem:${(pos + off).toString(16)}:${name}`);
					}
					if (got < LEN || pos + got >= end)
						break;
					pos += got - (LEN - 1);	// overlap: a copy across two reads
				}
			}
		} finally {
			fs.closeSync(fd);
		}
	}

	run() {
		const k = this.key;
		// First: freed memory holds the secret only until it is reused.
		this.scanMemory(process.pid, '');
		for (const v of CACHE.values())
			if (k.within(v))
				this.hit('global');
		if (k.within(process.env.LEAK_SECRET))
			this.hit('getenv');
		if (k.within(readOr('/proc/self/environ', null)))
			this.hit('proc-environ');
		const tasks = fs.readdirSync('/proc/self/task');
		for (const tid of tasks)
			if (!baselineTasks.has(tid))
				this.hit(`thread:${tid}`);
		for (const tid of tasks) {
			const kids = readOr(`/proc/self/task/${tid}/children`, '').toString().split(/\s+/);
			for (const pid of kids.filter(Boolean)) {
				if (Number(pid) !== helper.pid)
					this.hit(`child:${pid}`);
				if (k.within(readOr(`/proc/${pid}/cmdline`, null)))
					this.hit(`child:${pid}:cmdline`);
				if (k.within(readOr(`/proc/${pid}/environ`, null)))
					this.hit(`child:${pid}:environ`);
				this.scanMemory(pid, `child:${pid}:`);
			}
		}
		for (const name of fs.readdirSync('/proc/self/fd')) {
			const fd = Number(name);
			try {
				const st = fs.fstatSync(fd);
				if (!st.isFile() || st.size === 0)
					continue;
				const got = fs.readSync(fd, READ, 0, Math.min(st.size, CHUNK), 0);
				if (k.find(READ, 0, got) !== -1)
					this.hit(`fd:${fd}:${fs.readlinkSync(`/proc/self/fd/${fd}`)}`);
			} catch (e) {
				continue;
			}
		}
		if (this.helperHolds())
			this.hit(`helper:${helper.pid}`);
		if (this.memHits > MAX_HITS)
			this.hit(`mem:${this.memHits - MAX_HITS}-more`);
		return this.places;
	}

	// Asks the helper; its answer is hex, compared without rebuilding the secret.
	helperHolds() {
		const held = helperAsk('Q');

		if (held.length !== 2 * LEN)
			return false;
		for (let i = 0; i < HALF; i++)
			if (parseInt(held.substr(2 * i, 2), 16) !== this.key.head[i])
				return false;
		for (let j = 0; j < HALF; j++)
			if (parseInt(held.substr(2 * (HALF + j), 2), 16) !== (this.key.tail[j] ^ 0xff))
				return false;
		return true;
	}
}

function plant(scenario, hex) {
	if (!/^[0-9a-fA-F]{64}$/.test(hex))
		throw new Error('need 64 hex digits');
	const secret = Buffer.from(hex, 'hex');
	const text = secret.toString('latin1');
	switch (scenario) {
	case 'global':
		CACHE.set('token', text);
		break;
	case 'heap': {
		// What handling a request leaves behind once dropped: headers
		// (strings), pooled and unpooled Buffers, in many sizes.
		let headers = [];
		for (let i = 0; i < 256; i++)
			headers.push(`X-Request-${i}: ${'.'.repeat(i % 400)}Bearer ${text}`);
		let wire = headers.map((h) => Buffer.from(h, 'latin1'));
		let body = Buffer.alloc(65536);
		body.write(text, 1000, 'latin1');
		headers = wire = body = null;
		break;
	}
	case 'env':
		process.env.LEAK_SECRET = text;
		break;
	case 'thread': {
		const flag = new Int32Array(new SharedArrayBuffer(4));
		const worker = new Worker(WORKER, { eval: true, workerData: { secret: text, flag: flag.buffer } });
		// The main thread is synchronous: wait on shared memory, bounded.
		if (Atomics.wait(flag, 0, 0, 30000) === 'timed-out')
			throw new Error('worker did not start');
		HELD.worker = worker;
		break;
	}
	case 'child':
		// spawn() returns once the exec succeeded: argv is in place.
		HELD.child = childProcess.spawn('/bin/sh', ['-c', 'read x', 'leak-child', text],
						{ stdio: ['pipe', 'ignore', 'ignore'] });
		if (!HELD.child.pid)
			throw new Error('spawn failed');
		break;
	case 'helper':
		if (helperAsk(`S ${hex}`) !== 'ok')
			throw new Error('the helper did not keep the secret');
		break;
	case 'fd': {
		const path = `/tmp/rewindd-leak-${process.pid}-${Date.now()}`;
		const fd = fs.openSync(path, 'wx+', 0o600);
		fs.writeSync(fd, secret);
		fs.unlinkSync(path);
		HELD.fd = fd;
		break;
	}
	default:
		throw new Error(`unknown scenario '${scenario}'`);
	}
}

// Undoes a plant: only for the warm-up before "ready" (asynchronous).
async function unplant(scenario) {
	switch (scenario) {
	case 'global':
		CACHE.clear();
		break;
	case 'env':
		delete process.env.LEAK_SECRET;
		break;
	case 'thread':
		await HELD.worker.terminate();
		delete HELD.worker;
		break;
	case 'child': {
		const c = HELD.child;
		const exited = new Promise((resolve) => c.once('exit', resolve));
		c.stdin.end();
		await exited;
		delete HELD.child;
		break;
	}
	case 'fd':
		fs.closeSync(HELD.fd);
		delete HELD.fd;
		break;
	case 'helper':
		helperAsk('C');
		break;
	}
}

// The helper: a process of its own from init on, holding the bytes of the last secret.
const HELPER = `
const fs = require('fs');
const from = fs.openSync(process.argv[1], 'r'), to = fs.openSync(process.argv[2], 'w');
let held = Buffer.alloc(0);
const one = Buffer.alloc(1);
for (;;) {
	const bytes = [];
	while (fs.readSync(from, one, 0, 1, null) === 1 && one[0] !== 0x0a)
		bytes.push(one[0]);
	if (!bytes.length)
		process.exit(0);
	const w = String.fromCharCode(...bytes).split(' ');
	let answer = 'ok';
	if (w[0] === 'S')
		held = Buffer.from(w[1], 'hex');
	else if (w[0] === 'C')
		held = Buffer.alloc(0);
	else
		answer = held.toString('hex');
	fs.writeSync(to, answer + '\\n');
}
`;
const helper = { pid: 0, to: -1, from: -1 };

// Two FIFOs, opened blocking on both sides in the same order: the main loop is synchronous.
function helperStart() {
	const dir = fs.mkdtempSync('/tmp/rewindd-leak-helper-');
	const req = `${dir}/req`, resp = `${dir}/resp`;

	childProcess.execFileSync('mkfifo', ['-m', '600', req, resp]);
	const c = childProcess.spawn(process.execPath, ['-e', HELPER, req, resp], { stdio: 'ignore' });
	if (!c.pid)
		throw new Error('cannot start the helper');
	helper.pid = c.pid;
	helper.to = fs.openSync(req, 'w');
	helper.from = fs.openSync(resp, 'r');
	fs.rmSync(dir, { recursive: true });
}

function helperAsk(line) {
	const bytes = [];

	fs.writeSync(helper.to, line + '\n');
	for (;;) {
		if (fs.readSync(helper.from, ONE, 0, 1, null) !== 1)
			throw new Error('the helper is gone');
		if (ONE[0] === 0x0a)
			return String.fromCharCode(...bytes);
		bytes.push(ONE[0]);
	}
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

async function main() {
	const scenarios = ['global', 'heap', 'env', 'thread', 'child', 'fd', 'helper'];
	helperStart();
	const warm = '57'.repeat(LEN);
	for (const s of scenarios) {
		plant(s, warm);
		new Search(new Key(warm)).run();
		await unplant(s);
	}
	baselineTasks = new Set(fs.readdirSync('/proc/self/task'));
	say('ready');
	for (let line; (line = readLine()) !== null;) {
		const words = line.split(/\s+/).filter(Boolean);
		if (!words.length)
			continue;
		if (words[0] === 'exit')
			break;
		try {
			if (words.length !== 3)
				throw new Error('usage: plant|search SCENARIO HEX64');
			if (words[0] === 'plant') {
				plant(words[1], words[2]);
				say('done');
			} else if (words[0] === 'search') {
				const places = new Search(new Key(words[2])).run();
				say(places.length ? `found ${places.join(',')}` : 'clean');
			} else {
				throw new Error(`unknown command '${words[0]}'`);
			}
		} catch (e) {
			say(`error ${e.message}`);
		}
	}
	process.exit(0);
}

main().catch((e) => {
	say(`error ${e.stack}`);
	process.exit(2);
});
