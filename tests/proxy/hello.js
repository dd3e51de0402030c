// SPDX-License-Identifier: GPL-2.0-only
// The smallest Node action, answering through a Promise (plain source: main is not exported).
function main(params) {
  const name = params.name || 'stranger';
  console.log(`hello stdout from ${name}`);
  console.error(`hello stderr from ${name}`);
  return new Promise((resolve) => setImmediate(() => resolve({
    greeting: `hello ${name}`, pid: process.pid, cwd: process.cwd(), tmpdir: process.env.TMPDIR,
  })));
}
