# SPDX-License-Identifier: GPL-2.0-only
# Entry of a binary (zip) Python action: imports a module shipped next to it.
from helper import shout


def main(args):
    return {"shout": shout(args.get("name", "nobody"))}
