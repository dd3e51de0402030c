# SPDX-License-Identifier: GPL-2.0-only
# A graph computation (routing / social graph query): an undirected weighted
# graph of n nodes (a ring plus m pseudo-random edges), Dijkstra's shortest
# distances and BFS hop counts from node 0. Same output as graph.js; the
# digest is the SHA-256 of the distance list.
import hashlib
import heapq
from collections import deque

M = 0xFFFFFFFF


def main(args):
    n = int(args.get("n", 200))
    m = int(args.get("m", 800))
    x = int(args.get("seed", 5)) or 1
    adj = [[] for _ in range(n)]

    def nxt():
        nonlocal x
        x ^= (x << 13) & M
        x ^= x >> 17
        x ^= (x << 5) & M
        return x

    for i in range(n):
        w = 1 + nxt() % 100
        adj[i].append((i + 1) % n * 1000 + w)
        adj[(i + 1) % n].append(i * 1000 + w)
    for _ in range(m):
        u, v, w = nxt() % n, nxt() % n, 1 + nxt() % 100
        adj[u].append(v * 1000 + w)
        adj[v].append(u * 1000 + w)
    inf = 1 << 60
    dist = [inf] * n
    dist[0] = 0
    heap = [(0, 0)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for e in adj[u]:
            v, nd = e // 1000, d + e % 1000
            if nd < dist[v]:
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    hops = [-1] * n
    hops[0] = 0
    q = deque([0])
    while q:
        u = q.popleft()
        for e in adj[u]:
            v = e // 1000
            if hops[v] < 0:
                hops[v] = hops[u] + 1
                q.append(v)
    text = ",".join(map(str, dist)).encode()
    return {"n": n, "edges": n + m, "sum": sum(dist), "max": max(dist), "diameter_from_0": max(hops),
            "digest": hashlib.sha256(text).hexdigest()[:16]}
