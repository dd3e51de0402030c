// SPDX-License-Identifier: GPL-2.0-only
// A careless Node action: it keeps the caller's secret in a global, in a file
// in its TMPDIR and in its work dir (cwd), and in an environment variable, and
// reports what it finds left over from earlier callers before it does so.
const fs = require('fs');
const path = require('path');

const cache = [];  // a "warm cache" at module level

function read(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    return null;
  }
}

async function main(params) {
  const tmpFile = path.join(process.env.TMPDIR || '/tmp', 'secret.txt');
  const cwdFile = path.join(process.cwd(), 'secret-cwd.txt');
  const found = {
    global: cache.length ? cache[cache.length - 1] : null,
    tmpfile: read(tmpFile),
    workfile: read(cwdFile),
    env: process.env.LEAK_SECRET || null,
  };
  if (params.secret) {
    cache.push(params.secret);
    for (const file of [tmpFile, cwdFile]) fs.writeFileSync(file, params.secret);
    process.env.LEAK_SECRET = params.secret;
  }
  return { found, pid: process.pid };
}
