// SPDX-License-Identifier: GPL-2.0-only
// Starts a thread pool (a fan-out step: hashing user credentials): `tasks`
// PBKDF2-HMAC-SHA256 derivations run at once on Node's libuv thread pool
// (4 threads, started by the first use in the process: node cannot start a
// pool of its own threads per call without worker_threads, which costs tens
// of ms each). Same keys as threadpool.py; the digest is the SHA-256 of all keys.
const crypto = require('crypto');
const util = require('util');

const pbkdf2 = util.promisify(crypto.pbkdf2);

async function main(args) {
  const tasks = Number(args.tasks || 8);
  const iterations = Number(args.iterations || 1000);
  const seed = Number(args.seed || 13);
  const keys = await Promise.all(Array.from({ length: tasks },
    (_, i) => pbkdf2(`user${i}:${seed}`, `salt${i}`, iterations, 32, 'sha256')));
  return { tasks, threads: Number(process.env.UV_THREADPOOL_SIZE || 4),
           digest: crypto.createHash('sha256').update(Buffer.concat(keys)).digest('hex').slice(0, 16) };
}

module.exports.main = main;
