# SPDX-License-Identifier: GPL-2.0-only
# Returns what it is asked for: {"kind": "string" | "none" | "number" | "list"
# | "dict" | "big"} ("big": a string of "size" characters, and the pid).
import os


def main(args):
    kind = args.get("kind", "string")
    if kind == "big":
        return {"s": "x" * int(args.get("size", 0)), "pid": os.getpid()}
    if kind == "list":
        return [1, 2, 3]
    if kind == "none":
        return None
    if kind == "number":
        return 42
    if kind == "dict":
        return {"kind": "dict"}
    return "just a string"
