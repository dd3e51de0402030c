# SPDX-License-Identifier: GPL-2.0-only
# Writes {"text"} into {"path"} (anywhere: a test decides whether the tree is watched).
import os


def main(args):
    with open(args["path"], "w") as f:
        f.write(args["text"])
    return {"wrote": args["path"], "pid": os.getpid()}
