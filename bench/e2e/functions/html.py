# SPDX-License-Identifier: GPL-2.0-only
# HTML templating (a server-rendered page): a table of n pseudo-random items
# with escaped names, prices and tags. Same output as html.js for the same
# input; the digest is the SHA-256 of the page (UTF-8).
import hashlib
import html

WORDS = ["alpha", "beta", "gamma", "delta", "<script>", "Tom & Jerry", "O'Brien", '"quoted"',
         "naïve", "café", "zeta", "omega", "kappa", "lambda", "sigma", "tau"]
PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>
<p>Hello, {user}! You have {n} items.</p>
<table>
<tr><th>#</th><th>Name</th><th>Price</th><th>Tags</th></tr>
{rows}
</table>
<p>Total: {total}</p>
</body></html>
"""
ROW = '<tr class="{cls}"><td>{i}</td><td>{name}</td><td>{price}</td><td>{tags}</td></tr>'
M = 0xFFFFFFFF


def rng(seed):
    x = (seed or 1) & M
    while True:
        x ^= (x << 13) & M
        x ^= x >> 17
        x ^= (x << 5) & M
        yield x


def money(cents):
    return "%d.%02d" % (cents // 100, cents % 100)


def main(args):
    n = int(args.get("n", 200))
    r = rng(int(args.get("seed", 7)))
    esc = html.escape
    rows = []
    total = 0
    for i in range(n):
        name = WORDS[next(r) % len(WORDS)] + " " + WORDS[next(r) % len(WORDS)]
        cents = next(r) % 100000
        total += cents
        tags = ", ".join(esc(WORDS[next(r) % len(WORDS)]) for _ in range(3))
        rows.append(ROW.format(cls="odd" if i % 2 else "even", i=i + 1, name=esc(name),
                               price=money(cents), tags=tags))
    page = PAGE.format(title=esc(args.get("title", "Order <summary>")), user=esc(args.get("user", "guest")),
                       n=n, rows="\n".join(rows), total=money(total))
    data = page.encode("utf-8")
    return {"rows": n, "bytes": len(data), "digest": hashlib.sha256(data).hexdigest()[:16]}
