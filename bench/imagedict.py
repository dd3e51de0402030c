#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""A measurement for issue 17 (image memory), not part of `make bench`:
how far a Node session's image compresses against another session's.

    OUTPUT=build /usr/bin/python3 bench/imagedict.py     (needs python3-zstandard, python3-lz4)

Two instances of one function (FN, default html; RT, default node; FN2, the
second's function if not the same: a mix) behind
rewind-proxy --shared-images (no address randomisation, the same seeds),
insecure mode, after the same warm-up: their private writable pages are
read from /proc/PID/mem. The second instance's pages that differ from the
first's at the same address (those the shared store cannot share) are
compressed page by page with zstd alone, then with the first instance's
whole image as a raw-content dictionary (an LZ77 match may reach any of its
bytes: objects V8 moved, not only the page at the same address), and with
dictionaries of TRAINED_KIB trained on the first image (small enough to
keep beside a store whose own pages are packed). Prints the
sizes, the time a page and a check that every page unpacks to itself.
Nothing is asserted: it prints.
"""
import glob
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "e2e"))
sys.dont_write_bytecode = True
import driver  # noqa: E402  (bench/e2e/driver.py: the proxy harness)

try:
    import lz4.block
    import zstandard
except ImportError:
    sys.exit("imagedict: needs /usr/bin/python3's zstandard and lz4 (apt-get install python3-zstandard python3-lz4)")

FN = os.environ.get("FN", "html")
FN2 = os.environ.get("FN2", FN)     # the second instance's function: another one for a mix
RT = os.environ.get("RT", "node")
LEVELS = [int(x) for x in os.environ.get("LEVELS", "1 3 9").split()]
LZ4_DICT = 65536    # LZ4's window: a dictionary's last 64 KiB is all it can reach
TRAINED = [int(x) * 1024 for x in os.environ.get("TRAINED_KIB", "112 1024").split()]  # trained dictionaries' sizes
PAGE = 4096
ZERO = bytes(PAGE)
MIB = 1048576.0


def descendants(pid):
    out = []
    for t in glob.glob("/proc/%d/task/*/children" % pid):
        with open(t) as f:
            for c in f.read().split():
                out += [int(c)] + descendants(int(c))
    return out


def private_pages(pid):
    """{address: bytes} of the process's private writable pages that are not zero."""
    pages = {}
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for ln in maps:
            f = ln.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if f[1][1] != "w" or f[1][3] != "p" or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
                continue
            for a in range(lo, hi, PAGE):
                try:
                    mem.seek(a)
                    b = mem.read(PAGE)
                except OSError:
                    continue
                if b != ZERO:
                    pages[a] = b
    return pages


def instance_image(fn):
    p = driver.Proxy(RT, "insecure", warm=driver.value_of(fn, driver.SPECS[fn]["bench"][RT]),
                     extra=["--shared-images"])
    try:
        p.init(fn)
        p.idle()
        comm = "node" if RT == "node" else "python3"
        fn = [k for k in descendants(p.p.pid) if open("/proc/%d/comm" % k).read().strip() == comm]
        if len(fn) != 1:
            raise RuntimeError("expected one %s process under the proxy, found %d" % (comm, len(fn)))
        return private_pages(fn[0])
    finally:
        p.stop()


class LZ4HC:
    """LZ4's high compression at rewindd's level, with a dictionary (its last 64 KiB) or none."""

    def __init__(self, dictionary):
        self.d = dictionary or b""

    def compress(self, page):
        return lz4.block.compress(page, mode="high_compression", compression=9, store_size=False, dict=self.d)

    def decompress(self, block):
        return lz4.block.decompress(block, uncompressed_size=PAGE, dict=self.d)


def packed(pages, compressor):
    t = time.perf_counter()
    out = [compressor.compress(v) for v in pages]
    return out, (time.perf_counter() - t) / len(pages) * 1e6


def main():
    first, second = instance_image(FN), instance_image(FN2)
    todo = [v for a, v in second.items() if first.get(a) != v]
    print("%s/%s then %s/%s: first instance %d pages, second %d; identical at the same address %d; left to "
          "store %d (%.1f MiB)" % (FN, RT, FN2, RT, len(first), len(second), len(second) - len(todo), len(todo),
                          len(todo) * PAGE / MIB))
    ref = b"".join(first[a] for a in sorted(first))
    lz4_alone = LZ4HC(None)
    out, us = packed(todo, lz4_alone)
    n = sum(map(len, out))
    print("  LZ4 HC 9 alone (rewindd's packing):     %6.1f MiB (%.2fx), %5.1f us a page" % (
        n / MIB, len(todo) * PAGE / n, us))
    d = zstandard.train_dictionary(LZ4_DICT, list(first.values()), level=3).as_bytes()
    lz4_dict = LZ4HC(d)
    out, us = packed(todo, lz4_dict)
    n = sum(map(len, out))
    t = time.perf_counter()
    same = all(lz4_dict.decompress(o) == v for o, v in zip(out, todo))
    un = (time.perf_counter() - t) / len(todo) * 1e6
    print("  LZ4 HC 9, a 64 KiB dictionary trained on the first image: %6.1f MiB (%.2fx), %5.1f us a page, "
          "unpack %4.1f us, every page back: %s" % (n / MIB, len(todo) * PAGE / n, us, un, same))
    for level in LEVELS:
        out, us = packed(todo, zstandard.ZstdCompressor(level=level))
        n = sum(map(len, out))
        print("  zstd %d alone:                        %6.1f MiB (%.2fx), %5.1f us a page" % (
            level, n / MIB, len(todo) * PAGE / n, us))
        d = zstandard.ZstdCompressionDict(ref, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        d.precompute_compress(level=level)
        out, us = packed(todo, zstandard.ZstdCompressor(level=level, dict_data=d))
        n = sum(map(len, out))
        dec = zstandard.ZstdDecompressor(dict_data=d)
        t = time.perf_counter()
        same = all(dec.decompress(o) == v for o, v in zip(out, todo))
        un = (time.perf_counter() - t) / len(todo) * 1e6
        print("  zstd %d, the first image as dictionary: %6.1f MiB (%.2fx), %5.1f us a page, unpack %4.1f us, "
              "every page back: %s" % (level, n / MIB, len(todo) * PAGE / n, us, un, same))
        for size in TRAINED:
            t = time.perf_counter()
            d = zstandard.train_dictionary(size, list(first.values()), level=level)
            train = time.perf_counter() - t
            out, us = packed(todo, zstandard.ZstdCompressor(level=level, dict_data=d))
            n = sum(map(len, out))
            dec = zstandard.ZstdDecompressor(dict_data=d)
            same = all(dec.decompress(o) == v for o, v in zip(out, todo))
            print("  zstd %d, a %4d KiB dictionary trained on the first image (%.1f s): %6.1f MiB (%.2fx), "
                  "%5.1f us a page, every page back: %s" % (level, size // 1024, train, n / MIB,
                                                            len(todo) * PAGE / n, us, same))


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(driver.TMP, ignore_errors=True)   # the proxies' work dirs
