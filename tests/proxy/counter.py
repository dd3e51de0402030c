# SPDX-License-Identifier: GPL-2.0-only
# Counts its invocations in a global: shows warm-up calls (before the
# checkpoint) and whether an activation's change survives to the next one.
# "tag" is kept too: shows which input the warm-up calls had.
import os

COUNT = 0
TAG = None


def main(args):
    global COUNT, TAG
    COUNT += 1
    TAG = args.get("tag", TAG)
    return {"count": COUNT, "tag": TAG, "pid": os.getpid()}
