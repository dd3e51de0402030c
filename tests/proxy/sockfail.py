# SPDX-License-Identifier: GPL-2.0-only
# Creates a socketpair while it initialises (before the checkpoint) and closes
# one end during an activation when asked ({"close": true}): rewindd cannot
# put a socket back, so that rewind fails and the proxy must start afresh.
import os
import socket

A, B = socket.socketpair()


def main(args):
    if args.get("close"):
        A.close()
    return {"pid": os.getpid(), "fileno": A.fileno()}
