# SPDX-License-Identifier: GPL-2.0-only
# Dies in the middle of an activation when asked: {"crash": true} exits, {"signal": N} kills itself.
import os
import signal


def main(args):
    if args.get("crash"):
        os._exit(3)
    if args.get("signal"):
        os.kill(os.getpid(), int(args["signal"]))
        signal.pause()
    return {"pid": os.getpid()}
