// SPDX-License-Identifier: GPL-2.0-only
// Compression writing to /tmp (an archiving step): kb KiB of pseudo-random
// log-like text, gzipped into $TMPDIR/archive.gz (the proxy points TMPDIR
// into the function's watched dir), read back and checked. The same text as
// compress.py; the compressed bytes differ (Node bundles its own zlib), so
// the digest is of the text, with its CRC-32.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const WORDS = ['GET', 'POST', '/api/v1/orders', '/api/v1/users', '200', '404', '500', 'user', 'session',
  'cache', 'miss', 'hit', 'latency', 'ms', 'db', 'query', 'select', 'insert', 'update', 'ok',
  'error', 'retry', 'timeout', 'auth', 'token', 'expired', 'renewed', 'queue', 'job', 'done',
  'started', 'worker'];

function textOf(size, seed) {
  let x = (seed || 1) >>> 0;
  const parts = [];
  let n = 0;
  let line = 0;
  while (n < size) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    const word = WORDS[x % WORDS.length];
    line += 1;
    parts.push(word + (line % 12 === 0 ? '\n' : ' '));
    n += word.length + 1;
  }
  return Buffer.from(parts.join(''), 'utf8').subarray(0, size);
}

function main(args) {
  const size = Number(args.kb || 16) * 1024;
  const level = Number(args.level === undefined ? 6 : args.level);
  const data = textOf(size, Number(args.seed || 11));
  const file = path.join(process.env.TMPDIR || '/tmp', 'archive.gz');
  fs.writeFileSync(file, zlib.gzipSync(data, { level }));
  const packed = fs.readFileSync(file);
  const ok = zlib.gunzipSync(packed).equals(data);
  return { bytes: data.length, compressed: packed.length, ok, crc32: zlib.crc32(data),
           digest: crypto.createHash('sha256').update(data).digest('hex').slice(0, 16) };
}

module.exports.main = main;
