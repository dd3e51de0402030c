# SPDX-License-Identifier: GPL-2.0-only
# Thumbnailing with Pillow (a C extension): a w x h RGB image made from the
# seed, resized to a quarter with Lanczos and encoded as JPEG, then decoded
# again. The digest is the SHA-256 of the JPEG bytes.
import hashlib
import io

from PIL import Image

# Requests this process served (a state one request leaves to the next).
calls = 0


def main(args):
    global calls
    calls += 1
    w = int(args.get("w", 256))
    h = int(args.get("h", 192))
    seed = int(args.get("seed", 3))
    raw = bytearray(w * h * 3)
    i = 0
    for y in range(h):
        for x in range(w):
            raw[i] = (x * 7 + y * 3 + seed) & 255
            raw[i + 1] = (x * y + seed * 5) & 255
            raw[i + 2] = ((x ^ y) * 11 + seed) & 255
            i += 3
    img = Image.frombytes("RGB", (w, h), bytes(raw))
    thumb = img.resize((w // 4, h // 4), Image.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=80)
    data = out.getvalue()
    back = Image.open(io.BytesIO(data))
    return {"calls": calls, "size": list(back.size), "bytes": len(data),
            "digest": hashlib.sha256(data).hexdigest()[:16]}
