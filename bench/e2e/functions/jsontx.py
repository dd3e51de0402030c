# SPDX-License-Identifier: GPL-2.0-only
# JSON transformation (an API adapter): the request carries customer records;
# keep the active ones, flatten them, total their orders, group by country
# with the top three customers of each, and serialise the response document.
# Same output as jsontx.js; the digest is the SHA-256 of the compact JSON.
import hashlib
import json


def transform(rec, rep):
    total = 0
    items = 0
    for o in rec["orders"]:
        total += o["qty"] * o["cents"]
        items += o["qty"]
    return {
        "id": rec["id"] + rep * 1000000,
        "name": rec["name"].upper(),
        "email": rec["email"].lower(),
        "city": rec["address"]["city"],
        "zip": rec["address"]["zip"],
        "country": rec["country"],
        "tags": sorted(set(rec["tags"])),
        "items": items,
        "total": total,
        "score": rec["score"] * 2 + (1 if "vip" in rec["tags"] else 0),
    }


def main(args):
    records = args.get("records", [])
    repeat = int(args.get("repeat", 1))
    out = []
    for rep in range(repeat):
        for rec in records:
            if rec.get("active"):
                out.append(transform(rec, rep))
    groups = {}
    for c in out:
        g = groups.setdefault(c["country"], {"country": c["country"], "customers": 0, "total": 0, "top": []})
        g["customers"] += 1
        g["total"] += c["total"]
        g["top"].append(c)
    result = []
    for key in sorted(groups):
        g = groups[key]
        g["top"] = [{"id": c["id"], "name": c["name"], "total": c["total"]}
                    for c in sorted(g["top"], key=lambda c: (-c["total"], c["id"]))[:3]]
        g["average"] = g["total"] // g["customers"]
        result.append(g)
    doc = {"customers": out, "groups": result, "count": len(out)}
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    back = json.loads(text)
    return {"count": back["count"], "groups": len(back["groups"]), "bytes": len(text.encode()),
            "digest": hashlib.sha256(text.encode()).hexdigest()[:16]}
