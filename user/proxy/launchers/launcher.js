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
 *     Promise of one) goes to fd 3 as one JSON line. A throw or a rejection is
 *     answered {"error":"..."}.
 * One activation at a time; stdout and stderr are the proxy's log (pipes and
 * files are written synchronously on Linux, so the log precedes the answer).
 * rewind-proxy's fork mode is not available for node (node has no fork() of
 * a running process): its switch line, {"rewind-proxy":"fork-per-request"},
 * is refused with {"fork":false,"error":...} (the proxy refuses --mode fork
 * with --runtime node before it gets here). {"rewind-proxy":"settle"}, sent
 * before the process is kept, is answered {"settled":true}: unlike Python's
 * Thread.join(), a worker_threads Worker joins its OS thread before it emits
 * 'exit', so no thread the action waited for is left to wait out here.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const Module = require('module');

const OUT = 3;

function writeLine(obj) {
  let text;
  try {
    text = JSON.stringify(obj);
  } catch (err) {
    text = JSON.stringify({ error: `the result is not JSON: ${err.message}` });
  }
  // undefined (a function returning nothing) is not JSON: the proxy says so.
  if (text === undefined) text = 'null';
  const buf = Buffer.from(text + '\n', 'utf8');
  for (let off = 0; off < buf.length;) off += fs.writeSync(OUT, buf, off, buf.length - off);
}

function load(entry, mainName) {
  const file = path.resolve(entry);
  const src = fs.readFileSync(file, 'utf8');
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  // Plain source defines main at its top level without exporting it.
  mod._compile(`${src}\n;if (typeof ${mainName} === 'function' && ` +
               `typeof module.exports.${mainName} !== 'function') module.exports.${mainName} = ${mainName};`,
               file);
  let fn = mod.exports && mod.exports[mainName];
  if (typeof fn !== 'function' && typeof mod.exports === 'function' && mainName === 'main') fn = mod.exports;
  if (typeof fn !== 'function') throw new Error(`the action has no function named ${mainName}`);
  return fn;
}

function main() {
  const [entry, mainName] = process.argv.slice(2);
  if (!entry || !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(mainName || '')) {
    console.error('usage: launcher.js ENTRY_FILE MAIN_NAME');
    process.exit(2);
  }
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
    if (request && request['rewind-proxy'] === 'settle' && Object.keys(request).length === 1) {
      // V8 collects on its own schedule: nothing to settle here.
      writeLine({ settled: true });
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
    let result;
    try {
      result = await fn(request.value === undefined ? {} : request.value);
    } catch (err) {
      console.error(err);
      result = { error: err && err.message ? err.message : String(err) };
    }
    writeLine(result);
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
