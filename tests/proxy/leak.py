# SPDX-License-Identifier: GPL-2.0-only
# A careless action: it keeps the caller's secret in a global, in a file in
# its TMPDIR and in its work dir (cwd), and in an environment variable, and
# reports what it finds left over from earlier callers before it does so.
import os

CACHE = []  # a "warm cache" at module level


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def main(args):
    tmp_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), "secret.txt")
    cwd_file = os.path.join(os.getcwd(), "secret-cwd.txt")
    found = {
        "global": CACHE[-1] if CACHE else None,
        "tmpfile": read(tmp_file),
        "workfile": read(cwd_file),
        "env": os.environ.get("LEAK_SECRET"),
    }
    secret = args.get("secret")
    if secret:
        CACHE.append(secret)
        for path in (tmp_file, cwd_file):
            with open(path, "w") as f:
                f.write(secret)
        os.environ["LEAK_SECRET"] = secret
    return {"found": found, "pid": os.getpid()}
