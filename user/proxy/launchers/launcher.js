// SPDX-License-Identifier: GPL-2.0-only
/*
 * rewind-proxy's actionloop launcher for Node.js (/usr/bin/node).
 *
 *     node launcher.js ENTRY_FILE MAIN_NAME
 *
 * Loads ENTRY_FILE as a CommonJS module; MAIN_NAME is taken from its exports
 * or, for plain source ("function main(params) {...}" without exports), from
 * its top level. Then the actionloop protocol with the proxy:
 *   - fd 3 gets {"ok":true} once the code is loaded (when __OW_WAIT_FOR_ACK is
 *     set), or {"ok":false,"error":...} and the launcher exits;
 *   - each line on stdin is {"value":{...},"activation_id":"...",...}: the
 *     fields other than "value" become __OW_<FIELD> environment variables for
 *     this activation only; main(value) runs and its result (an object, or a
 *     Promise of one; nothing is {}) goes to fd 3 as one JSON line. A rejection
 *     is answered {"error": ...} (an Error's name, message and stack); a throw
 *     from main is no result: the line '!{"status":502,"error":"An error has
 *     occurred: ..."}', as Node's runtime answers it.
 * MAIN_NAME may be a path into the exports ("niam.xyz").
 * One activation at a time; stdout and stderr are the proxy's log (pipes and
 * files are written synchronously on Linux, so the log precedes the answer).
 * rewind-proxy's fork mode is not available for node (node has no fork() of
 * a running process): its switch line, {"rewind-proxy":"fork-per-request"},
 * is refused with {"fork":false,"error":...} (the proxy refuses --mode fork
 * with --runtime node before it gets here). {"rewind-proxy":"settle"}, sent
 * before the process is kept, is answered {"settled":true}: unlike Python's
 * Thread.join(), a worker_threads Worker joins its OS thread before it emits
 * 'exit', so no thread the action waited for is left to wait out here. With
 * "keep-heap":true (rewind and insecure modes) malloc's trim is turned off
 * first and the answer says so: "heap":"kept", or "heap":"trimmable" and why.
 * With "release-free":N, once the heap is kept, up to N bytes of the free top
 * of malloc's heap go back to the kernel, the break kept (launcher.py's
 * release_free): "released": bytes, or 0 and "release": why not.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const Module = require('module');

const OUT = 3;

function writeText(text) {
  const buf = Buffer.from(text + '\n', 'utf8');
  for (let off = 0; off < buf.length;) off += fs.writeSync(OUT, buf, off, buf.length - off);
}

function writeLine(obj) {
  let text;
  try {
    text = JSON.stringify(obj);
  } catch (err) {
    text = JSON.stringify({ error: `the result is not JSON: ${err.message}` });
  }
  // A function's result that is not JSON (a function, a symbol): the proxy says so.
  if (text === undefined) text = 'null';
  writeText(text);
}

// No result: '!' and the answer's status and error (no JSON text starts with '!').
function writeFailure(status, error) {
  writeText('!' + JSON.stringify({ status, error }));
}

// A rejection as Node's runtime answers it (serialize-error): an Error's name, message and stack.
function serializeError(err) {
  if (!err) return {};
  if (!(err instanceof Error)) return err;
  const o = {};
  for (const k of Object.keys(err)) o[k] = err[k];
  o.name = err.name;
  o.message = err.message;
  o.stack = err.stack;
  return o;
}

function load(entry, mainName) {
  const file = path.resolve(entry);
  const src = fs.readFileSync(file, 'utf8');
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  // Plain source defines main at its top level without exporting it.
  const plain = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(mainName);
  mod._compile(plain ? `${src}\n;if (typeof ${mainName} === 'function' && ` +
               `typeof module.exports.${mainName} !== 'function') module.exports.${mainName} = ${mainName};` :
               src, file);
  // "niam.xyz" (a zip's main "other.niam.xyz", the proxy passing its module as ENTRY_FILE).
  let fn = mainName.split('.').reduce((o, k) => (o === undefined || o === null ? undefined : o[k]),
                                      mod.exports);
  if (typeof fn !== 'function' && typeof mod.exports === 'function' && mainName === 'main') fn = mod.exports;
  if (typeof fn !== 'function') throw new Error(`the action has no function named ${mainName}`);
  if (mod.exports && typeof mod.exports.afterRewind === 'function') afterRewindHooks.push(mod.exports.afterRewind);
  return fn;
}

/*
 * Randomness after a rewind. In rewind mode every activation starts from the
 * same checkpoint, and so would every random generator kept in user space:
 * V8's Math.random, OpenSSL's DRBG behind node:crypto and WebCrypto, and
 * node's own caches of its bytes (randomUUID's, randomInt's). Neither V8 nor
 * node offers a reseed, so installReseeding() replaces them before the
 * action is loaded: Math.random draws from a pool of kernel entropy
 * (/dev/urandom, read through an fd opened here: each read is the kernel's,
 * fresh), and the crypto functions overwrite what OpenSSL gave with fresh
 * kernel bytes (their own checks and errors stay node's); randomUUID and
 * randomInt get fresh values of their own. Before each activation
 * beforeActivation() drops what the pool holds (the checkpoint's bytes)
 * and runs the action's after-rewind hooks: its exported afterRewind, and
 * what it gave globalThis.rewindProxy.afterRewind(fn). A hook that throws
 * fails the activation. REWIND_PROXY_NO_RESEED=1 turns all of it off: for
 * tests that show the replay. What OpenSSL draws for itself (key
 * generation, TLS randoms) comes from its DRBGs, which node cannot reseed:
 * launcher_native.node (launcher_native.c) can, with RAND_add. beforeActivation() feeds
 * it 32 fresh kernel bytes; OpenSSL's per-thread DRBGs reseed from their
 * parent when they see it was reseeded. Without the addon (node's headers
 * were missing at build time) the launcher says so once and goes on.
 */
const afterRewindHooks = [];
let reseeding = false;
let urandomFd = -1;
let opensslAdd = null;   // launcher_native.node's add(buffer): RAND_add
const POOL = Buffer.alloc(4096);
const POOL32 = new Uint32Array(POOL.buffer, POOL.byteOffset, POOL.length / 4);
let poolPos = POOL.length;   // in bytes, a multiple of 4 for Math.random

function readKernel(view) {
  for (let off = 0; off < view.length;) {
    const n = fs.readSync(urandomFd, view, off, view.length - off, null);
    if (n <= 0) throw new Error('rewind-proxy: short read from /dev/urandom');
    off += n;
  }
}

// Overwrites bytes (a Uint8Array) with fresh kernel bytes: small requests
// from the pool, large ones straight from the kernel.
function fillKernel(bytes) {
  const n = bytes.length;
  if (n > POOL.length / 4) {
    readKernel(bytes);
    return;
  }
  if (poolPos + n > POOL.length) {
    readKernel(POOL);
    poolPos = 0;
  }
  bytes.set(POOL.subarray(poolPos, poolPos + n));
  POOL.fill(0, poolPos, poolPos + n);   // handed out once, not kept
  poolPos += n;
}

function kernelBytes(n) {
  const out = Buffer.allocUnsafe(n);
  fillKernel(out);
  return out;
}

function bytesOf(view) {
  if (ArrayBuffer.isView(view)) return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  return new Uint8Array(view);   // an ArrayBuffer or SharedArrayBuffer
}

// The bytes randomFill(Sync)(buf, offset, size) filled: offset and size count elements.
function filledBytes(buf, offset, size) {
  const all = bytesOf(buf);
  const el = ArrayBuffer.isView(buf) ? (buf.BYTES_PER_ELEMENT || 1) : 1;
  const off = (offset === undefined ? 0 : offset) * el;
  return all.subarray(off, size === undefined ? all.length : off + size * el);
}

// Uniform in [0, range), range <= 2^48 (randomInt's limit).
function kernelBelow(range) {
  const limit = 2 ** 48 - (2 ** 48 % range);
  for (;;) {
    const x = kernelBytes(6).readUIntBE(0, 6);
    if (x < limit) return x % range;
  }
}

function kernelUUID() {
  const b = kernelBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;   // version 4
  b[8] = (b[8] & 0x3f) | 0x80;   // variant 10
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function mathRandom() {
  poolPos = (poolPos + 3) & ~3;
  if (poolPos + 8 > POOL.length) {
    readKernel(POOL);
    poolPos = 0;
  }
  const i = poolPos >>> 2;
  poolPos += 8;
  // 21 + 32 bits: a double in [0, 1), as V8's.
  return ((POOL32[i] >>> 11) * 4294967296 + POOL32[i + 1]) / 9007199254740992;
}

function replace(obj, name, fn) {
  Object.defineProperty(obj, name, { value: fn, writable: true, enumerable: false, configurable: true });
}

// launcher_native.node's exports, or null and why in nativeMissing. The
// proxy names the one in its build dir; installed, it is next to us.
let nativeMissing = '';
function loadNative() {
  const env = process.env.REWIND_PROXY_NODE_ADDON;
  delete process.env.REWIND_PROXY_NODE_ADDON;
  const tried = [];
  for (const file of [env, path.join(__dirname, 'launcher_native.node')]) {
    if (!file) continue;
    tried.push(file);
    if (!fs.existsSync(file)) continue;
    const mod = { exports: {} };
    try {
      process.dlopen(mod, file);
      return mod.exports;
    } catch (err) {
      nativeMissing = `cannot load ${file}: ${err.message}`;
      return null;
    }
  }
  nativeMissing = `no launcher_native.node (tried ${tried.join(', ')})`;
  return null;
}
const native = loadNative();

// Rewind mode: a heap malloc trimmed is grown back by the rewind and copied whole.
let heapKept = false;
function keepHeap() {
  if (!native || !native.keepHeap) return { heap: 'trimmable', why: nativeMissing };
  heapKept = native.keepHeap();
  return heapKept ? { heap: 'kept' } : { heap: 'trimmable', why: 'mallopt(M_TRIM_THRESHOLD) refused' };
}

// "release-free": the free top of malloc's heap back to the kernel, the break kept (launcher_native.c).
function releaseFree(limit) {
  if (!heapKept) return { released: 0, release: 'the heap is not kept (malloc may trim it)' };
  if (!native.releaseFree) return { released: 0, release: nativeMissing || 'launcher_native.node has no releaseFree' };
  const released = native.releaseFree(limit);
  return typeof released === 'number' ? { released } : { released: 0, release: released };
}

function installReseeding() {
  if (process.env.REWIND_PROXY_NO_RESEED === '1') {
    delete process.env.REWIND_PROXY_NO_RESEED;
    return;
  }
  delete process.env.REWIND_PROXY_NO_RESEED;
  opensslAdd = native && native.add;
  if (!opensslAdd) {
    console.error('rewind-proxy: OpenSSL is not reseeded after a rewind (key generation, TLS randoms replay): ' +
                  nativeMissing);
  }
  const crypto = require('crypto');
  urandomFd = fs.openSync('/dev/urandom', 'r');
  reseeding = true;
  replace(Math, 'random', mathRandom);

  const node = { ...crypto };   // the originals (the wrappers' names shadow theirs)
  const bytes = function randomBytes(size, callback) {
    if (typeof callback !== 'function') {
      const buf = Reflect.apply(node.randomBytes, this, arguments);
      fillKernel(buf);
      return buf;
    }
    return Reflect.apply(node.randomBytes, this, [size, (err, buf) => {
      if (!err) fillKernel(buf);
      callback(err, buf);
    }]);
  };
  crypto.randomBytes = bytes;
  for (const alias of ['prng', 'pseudoRandomBytes', 'rng']) if (alias in crypto) replace(crypto, alias, bytes);
  crypto.randomFillSync = function randomFillSync(buf, offset, size) {
    const r = Reflect.apply(node.randomFillSync, this, arguments);
    fillKernel(filledBytes(buf, offset, size));
    return r;
  };
  crypto.randomFill = function randomFill(buf, ...rest) {
    const at = rest.findIndex((a) => typeof a === 'function');
    if (at < 0) return Reflect.apply(node.randomFill, this, arguments);
    const callback = rest[at];
    const [offset, size] = rest.slice(0, at);
    rest[at] = (err, b) => {
      if (!err) fillKernel(filledBytes(buf, offset, size));
      callback(err, b);
    };
    return Reflect.apply(node.randomFill, this, [buf, ...rest]);
  };
  // r moved by a fresh uniform offset within [min, max): still uniform, and fresh.
  crypto.randomInt = function randomInt(min, max, callback) {
    if (typeof max !== 'number') {
      callback = max;
      max = min;
      min = 0;
    }
    const shift = (r) => min + ((r - min + kernelBelow(max - min)) % (max - min));
    if (typeof callback !== 'function') return shift(Reflect.apply(node.randomInt, this, arguments));
    return Reflect.apply(node.randomInt, this, [min, max, (err, r) => callback(err, err ? r : shift(r))]);
  };
  crypto.randomUUID = function randomUUID(options) {
    Reflect.apply(node.randomUUID, this, arguments);   // node's checks of the options
    return kernelUUID();
  };
  // WebCrypto (crypto.webcrypto, globalThis.crypto; crypto.getRandomValues calls it).
  const proto = Object.getPrototypeOf(crypto.webcrypto);
  const { getRandomValues: webGetRandomValues, randomUUID: webRandomUUID } = proto;
  replace(proto, 'getRandomValues', function getRandomValues(array) {
    const r = Reflect.apply(webGetRandomValues, this, arguments);
    fillKernel(bytesOf(array));
    return r;
  });
  replace(proto, 'randomUUID', function randomUUID() {
    Reflect.apply(webRandomUUID, this, arguments);
    return kernelUUID();
  });
  // `import { randomBytes } from 'node:crypto'` sees the replacements too.
  Module.syncBuiltinESMExports();
  globalThis.rewindProxy = Object.freeze({
    afterRewind(fn) {
      if (typeof fn !== 'function') throw new TypeError('rewindProxy.afterRewind: not a function');
      afterRewindHooks.push(fn);
    },
  });
}

async function beforeActivation() {
  if (!reseeding) return;
  poolPos = POOL.length;   // the checkpoint's bytes are not this activation's
  if (opensslAdd) {
    const seed = Buffer.alloc(32);
    readKernel(seed);
    opensslAdd(seed);
    seed.fill(0);
  }
  for (const hook of afterRewindHooks) await hook();
}

function main() {
  const [entry, mainName] = process.argv.slice(2);
  if (!entry || !/^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$/.test(mainName || '')) {
    console.error('usage: launcher.js ENTRY_FILE MAIN_NAME');
    process.exit(2);
  }
  installReseeding();   // before the action's code can take Math.random or crypto's functions
  let fn;
  try {
    fn = load(entry, mainName);
  } catch (err) {
    console.error(err);
    writeLine({ ok: false, error: String(err && err.stack ? err.message : err) });
    process.exit(1);
  }
  if (process.env.__OW_WAIT_FOR_ACK) writeLine({ ok: true });
  delete process.env.__OW_WAIT_FOR_ACK;   // the protocol's, not the action's

  let previous = new Set();   // the __OW_* variables the last activation set
  const queue = [];
  let busy = false;

  async function serve(line) {
    let request;
    try {
      request = JSON.parse(line);
    } catch (err) {
      writeLine({ error: `malformed request: ${err.message}` });
      return;
    }
    if (request && request['rewind-proxy'] === 'settle' &&
        Object.keys(request).every((k) => k === 'rewind-proxy' || k === 'keep-heap' || k === 'release-free')) {
      // V8 collects on its own schedule; malloc's trim goes off on "keep-heap".
      const settled = Object.assign({ settled: true }, request['keep-heap'] === true ? keepHeap() : {});
      const limit = request['release-free'];
      if (Number.isSafeInteger(limit) && limit > 0) Object.assign(settled, releaseFree(limit));
      writeLine(settled);
      return;
    }
    if (request && request['rewind-proxy'] !== undefined && Object.keys(request).length === 1) {
      writeLine({ fork: false, error: 'fork mode is not available for node: node has no fork()' });
      return;
    }
    const current = new Set();
    for (const [key, val] of Object.entries(request)) {
      if (key === 'value') continue;
      const name = `__OW_${key.toUpperCase()}`;
      process.env[name] = typeof val === 'string' ? val : JSON.stringify(val);
      current.add(name);
    }
    // Context of an earlier activation must not show in this one.
    for (const name of previous) if (!current.has(name)) delete process.env[name];
    previous = current;
    try {
      await beforeActivation();
    } catch (err) {
      console.error(err);
      writeLine({ error: err && err.message ? err.message : String(err) });
      return;
    }
    // As Node's runtime: a throw from main is a failed activation (502), a
    // rejected Promise an error result (200), nothing returned an empty one.
    let pending;
    try {
      pending = fn(request.value === undefined || request.value === null ? {} : request.value);
    } catch (err) {
      console.error(err);
      writeFailure(502, `An error has occurred: ${err}`);
      return;
    }
    let result;
    try {
      result = await pending;
    } catch (err) {
      result = { error: serializeError(err) };
    }
    writeLine(result === undefined ? {} : result);
  }

  async function drain() {
    if (busy) return;
    busy = true;
    while (queue.length) await serve(queue.shift());
    busy = false;
  }

  // A request may be megabytes: look for the newline in new data only.
  let parts = [];
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    let start = 0;
    let nl;
    while ((nl = chunk.indexOf('\n', start)) >= 0) {
      parts.push(chunk.slice(start, nl));
      const line = parts.join('');
      parts = [];
      if (line.trim()) queue.push(line);
      start = nl + 1;
    }
    if (start < chunk.length) parts.push(chunk.slice(start));
    drain();
  });
  process.stdin.on('end', () => process.exit(0));
}

main();
