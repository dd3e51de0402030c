# SPDX-License-Identifier: GPL-2.0-only
# The demo's OpenWhisk action, careless as real ones are: it caches the
# caller's secret in a global, in a file in its TMPDIR and in an environment
# variable, and tells each caller what it finds left over from before.
import os

LAST = {}  # a "warm cache" at module level


def main(args):
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "last-user.txt")
    try:
        with open(path) as f:
            in_file = f.read()
    except OSError:
        in_file = None
    left_over = {
        "global": LAST.get("secret"),
        "file": in_file,
        "env": os.environ.get("LAST_SECRET"),
    }
    LAST["secret"] = args["secret"]
    with open(path, "w") as f:
        f.write(args["secret"])
    os.environ["LAST_SECRET"] = args["secret"]
    return {"greeting": "hello " + args["name"], "left_over_from_before": left_over}
