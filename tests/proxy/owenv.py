# SPDX-License-Identifier: GPL-2.0-only
# Shows the activation context it sees: every __OW_* variable, and the variables /init's env set.
import os

INIT_VARS = ("SOME_VAR", "OBJ_VAR", "EMPTY_VAR")


def main(args):
    return {"pid": os.getpid(),
            "env": {k: v for k, v in os.environ.items() if k.startswith("__OW_") or k in INIT_VARS}}
