// SPDX-License-Identifier: GPL-2.0-only
// JSON transformation (an API adapter): the request carries customer records;
// keep the active ones, flatten them, total their orders, group by country
// with the top three customers of each, and serialise the response document.
// Same output as jsontx.py; the digest is the SHA-256 of the compact JSON.
const crypto = require('crypto');

function transform(rec, rep) {
  let total = 0;
  let items = 0;
  for (const o of rec.orders) {
    total += o.qty * o.cents;
    items += o.qty;
  }
  return {
    id: rec.id + rep * 1000000,
    name: rec.name.toUpperCase(),
    email: rec.email.toLowerCase(),
    city: rec.address.city,
    zip: rec.address.zip,
    country: rec.country,
    tags: [...new Set(rec.tags)].sort(),
    items,
    total,
    score: rec.score * 2 + (rec.tags.includes('vip') ? 1 : 0),
  };
}

function main(args) {
  const records = args.records || [];
  const repeat = Number(args.repeat || 1);
  const out = [];
  for (let rep = 0; rep < repeat; rep++) {
    for (const rec of records) if (rec.active) out.push(transform(rec, rep));
  }
  const groups = new Map();
  for (const c of out) {
    if (!groups.has(c.country)) groups.set(c.country, { country: c.country, customers: 0, total: 0, top: [] });
    const g = groups.get(c.country);
    g.customers += 1;
    g.total += c.total;
    g.top.push(c);
  }
  const result = [];
  for (const key of [...groups.keys()].sort()) {
    const g = groups.get(key);
    g.top = g.top.slice().sort((a, b) => (b.total - a.total) || (a.id - b.id)).slice(0, 3)
      .map((c) => ({ id: c.id, name: c.name, total: c.total }));
    g.average = Math.floor(g.total / g.customers);
    result.push(g);
  }
  const text = JSON.stringify({ customers: out, groups: result, count: out.length });
  const back = JSON.parse(text);
  const data = Buffer.from(text, 'utf8');
  return { count: back.count, groups: back.groups.length, bytes: data.length,
           digest: crypto.createHash('sha256').update(data).digest('hex').slice(0, 16) };
}

module.exports.main = main;
