// SPDX-License-Identifier: GPL-2.0-only
// HTML templating (a server-rendered page): a table of n pseudo-random items
// with escaped names, prices and tags. Same output as html.py for the same
// input; the digest is the SHA-256 of the page (UTF-8).
const crypto = require('crypto');

const WORDS = ['alpha', 'beta', 'gamma', 'delta', '<script>', 'Tom & Jerry', "O'Brien", '"quoted"',
  'naïve', 'café', 'zeta', 'omega', 'kappa', 'lambda', 'sigma', 'tau'];
const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;' };

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]);
}

function rng(seed) {
  let x = (seed || 1) >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

function money(cents) {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

function main(args) {
  const n = Number(args.n || 200);
  const r = rng(Number(args.seed || 7));
  const rows = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const name = WORDS[r() % WORDS.length] + ' ' + WORDS[r() % WORDS.length];
    const cents = r() % 100000;
    total += cents;
    const tags = [0, 1, 2].map(() => esc(WORDS[r() % WORDS.length])).join(', ');
    rows.push(`<tr class="${i % 2 ? 'odd' : 'even'}"><td>${i + 1}</td><td>${esc(name)}</td>` +
              `<td>${money(cents)}</td><td>${tags}</td></tr>`);
  }
  const title = esc(args.title || 'Order <summary>');
  const page = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1>
<p>Hello, ${esc(args.user || 'guest')}! You have ${n} items.</p>
<table>
<tr><th>#</th><th>Name</th><th>Price</th><th>Tags</th></tr>
${rows.join('\n')}
</table>
<p>Total: ${money(total)}</p>
</body></html>
`;
  const data = Buffer.from(page, 'utf8');
  return { rows: n, bytes: data.length, digest: crypto.createHash('sha256').update(data).digest('hex').slice(0, 16) };
}

module.exports.main = main;
