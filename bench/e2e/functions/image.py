# SPDX-License-Identifier: GPL-2.0-only
# Image-like buffer processing (a thumbnail/filter step): a w x h RGB buffer
# made from the seed, converted to grey, blurred with a 3x3 box filter
# (separable, edges clamped), then its histogram and the share of pixels
# above the mean. Same output as image.js; the digest is the SHA-256 of the
# blurred buffer.
import hashlib


def main(args):
    w = int(args.get("w", 64))
    h = int(args.get("h", 64))
    seed = int(args.get("seed", 3))
    rgb = bytearray(w * h * 3)
    i = 0
    for y in range(h):
        for x in range(w):
            rgb[i] = (x * 7 + y * 3 + seed) & 255
            rgb[i + 1] = (x * y + seed * 5) & 255
            rgb[i + 2] = ((x ^ y) * 11 + seed) & 255
            i += 3
    grey = bytearray(w * h)
    for p in range(w * h):
        q = p * 3
        grey[p] = (77 * rgb[q] + 150 * rgb[q + 1] + 29 * rgb[q + 2]) >> 8
    # Horizontal then vertical sums of 3, clamped at the edges.
    hs = [0] * (w * h)
    for y in range(h):
        row = y * w
        for x in range(w):
            hs[row + x] = grey[row + (x - 1 if x else 0)] + grey[row + x] + grey[row + (x + 1 if x + 1 < w else x)]
    out = bytearray(w * h)
    for y in range(h):
        up = (y - 1 if y else 0) * w
        mid = y * w
        down = (y + 1 if y + 1 < h else y) * w
        for x in range(w):
            out[mid + x] = (hs[up + x] + hs[mid + x] + hs[down + x]) // 9
    hist = [0] * 256
    for v in out:
        hist[v] += 1
    mean = sum(out) // len(out)
    bright = sum(1 for v in out if v > mean)
    return {"w": w, "h": h, "mean": mean, "bright": bright, "peak": hist.index(max(hist)),
            "digest": hashlib.sha256(out).hexdigest()[:16]}
