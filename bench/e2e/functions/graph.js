// SPDX-License-Identifier: GPL-2.0-only
// A graph computation (routing / social graph query): an undirected weighted
// graph of n nodes (a ring plus m pseudo-random edges), Dijkstra's shortest
// distances and BFS hop counts from node 0. Same output as graph.py; the
// digest is the SHA-256 of the distance list.
const crypto = require('crypto');

// A binary min-heap of [distance, node].
class Heap {
  constructor() { this.a = []; }
  get size() { return this.a.length; }
  push(item) {
    const a = this.a;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p][0] < item[0] || (a[p][0] === item[0] && a[p][1] <= item[1])) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = item;
  }
  pop() {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        let c = l;
        if (l + 1 < a.length && (a[l + 1][0] < a[l][0] || (a[l + 1][0] === a[l][0] && a[l + 1][1] < a[l][1]))) c = l + 1;
        if (last[0] < a[c][0] || (last[0] === a[c][0] && last[1] <= a[c][1])) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

function main(args) {
  const n = Number(args.n || 200);
  const m = Number(args.m === undefined ? 800 : args.m);
  let x = (Number(args.seed || 5) || 1) >>> 0;
  const nxt = () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
  const adj = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    const w = 1 + nxt() % 100;
    adj[i].push(((i + 1) % n) * 1000 + w);
    adj[(i + 1) % n].push(i * 1000 + w);
  }
  for (let k = 0; k < m; k++) {
    const u = nxt() % n;
    const v = nxt() % n;
    const w = 1 + nxt() % 100;
    adj[u].push(v * 1000 + w);
    adj[v].push(u * 1000 + w);
  }
  const dist = new Array(n).fill(Infinity);
  dist[0] = 0;
  const heap = new Heap();
  heap.push([0, 0]);
  while (heap.size) {
    const [d, u] = heap.pop();
    if (d > dist[u]) continue;
    for (const e of adj[u]) {
      const v = Math.floor(e / 1000);
      const nd = d + e % 1000;
      if (nd < dist[v]) {
        dist[v] = nd;
        heap.push([nd, v]);
      }
    }
  }
  const hops = new Array(n).fill(-1);
  hops[0] = 0;
  const q = [0];
  for (let h = 0; h < q.length; h++) {
    const u = q[h];
    for (const e of adj[u]) {
      const v = Math.floor(e / 1000);
      if (hops[v] < 0) {
        hops[v] = hops[u] + 1;
        q.push(v);
      }
    }
  }
  const text = Buffer.from(dist.join(','), 'utf8');
  return { n, edges: n + m, sum: dist.reduce((s, d) => s + d, 0), max: Math.max(...dist),
           diameter_from_0: Math.max(...hops),
           digest: crypto.createHash('sha256').update(text).digest('hex').slice(0, 16) };
}

module.exports.main = main;
