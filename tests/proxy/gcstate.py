# SPDX-License-Identifier: GPL-2.0-only
# Shows the garbage collector's counters as the checkpoint left them: the
# module keeps 600 containers alive (gen0 count 600 of its 700 threshold),
# so unless the proxy settled the runtime (a full collection) before the
# checkpoint, every activation starts close to a collection.
import gc

KEEP = [{"i": i} for i in range(600)]


def main(args):
    return {"gen0": gc.get_count()[0], "kept": len(KEEP)}
