// SPDX-License-Identifier: GPL-2.0-only
// Stream compression to a file (an archiving step): kb KiB of pseudo-random
// log-like text piped through a zlib gzip stream (compressed on libuv's
// thread pool) into $TMPDIR/<name>.gz, read back through a gunzip stream and
// checked. The digest is of the text; ok says the round trip matched;
// existed, that the file was there before (left by an earlier request).
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { Readable } = require('stream');
const { pipeline } = require('stream/promises');
const zlib = require('zlib');

const WORDS = ['GET', 'POST', '/api/v1/orders', '/api/v1/users', '200', '404', '500', 'user', 'session',
  'cache', 'miss', 'hit', 'latency', 'ms', 'db', 'query', 'select', 'insert', 'update', 'ok'];

function* chunks(size, seed) {
  let x = (seed || 1) >>> 0;
  let n = 0;
  while (n < size) {
    const parts = [];
    for (let i = 0; i < 512 && n < size; i++) {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      const word = WORDS[x % WORDS.length] + (i % 12 === 11 ? '\n' : ' ');
      parts.push(word);
      n += word.length;
    }
    yield Buffer.from(parts.join(''), 'utf8');
  }
}

async function main(args) {
  const size = Number(args.kb || 64) * 1024;
  const seed = Number(args.seed || 11);
  const file = path.join(process.env.TMPDIR || '/tmp', `${args.name || 'log'}.gz`);
  const existed = fs.existsSync(file);
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  const source = Readable.from((function* () {
    for (const c of chunks(size, seed)) { hash.update(c); bytes += c.length; yield c; }
  })());
  await pipeline(source, zlib.createGzip({ level: Number(args.level || 6) }), fs.createWriteStream(file));
  const back = crypto.createHash('sha256');
  let got = 0;
  await pipeline(fs.createReadStream(file), zlib.createGunzip(), async function* (src) {
    for await (const c of src) { back.update(c); got += c.length; }
  });
  const digest = hash.digest('hex');
  return { bytes, existed, compressed: fs.statSync(file).size, ok: got === bytes && back.digest('hex') === digest,
           digest: digest.slice(0, 16) };
}

module.exports.main = main;
