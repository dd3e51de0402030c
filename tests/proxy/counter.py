# SPDX-License-Identifier: GPL-2.0-only
# Counts its invocations in a global: shows warm-up calls (before the
# checkpoint) and whether an activation's change survives to the next one.
import os

COUNT = 0


def main(args):
    global COUNT
    COUNT += 1
    return {"count": COUNT, "pid": os.getpid()}
