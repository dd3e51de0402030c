# SPDX-License-Identifier: GPL-2.0-only
"""A function for a container (run with /usr/bin/python3 as the container's
command). One line in, one line out; nothing else on stdout:

  -> ready threads=N children=N   initialised and idle
  <- plant TOKEN                  an invocation that keeps TOKEN everywhere:
                                  a global, os.environ, /tmp/fn-secret, a
                                  thread that keeps running, a child left
                                  running (TOKEN in its argv)
  -> planted
  <- probe TOKEN                  what this invocation can see of TOKEN
  -> global=0|1 env=0|1 tmp=0|1 threads=N children=N seccomp=N uid=N
  <- exit
"""
import os
import subprocess
import sys
import threading

SECRET = None
HELD = []
TMPFILE = "/tmp/fn-secret"


def tasks():
    return os.listdir("/proc/self/task")


def children():
    n = 0
    for t in tasks():
        try:
            with open(f"/proc/self/task/{t}/children") as f:
                n += len(f.read().split())
        except OSError:
            pass
    return n


def seccomp():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return -1


def hold(token, release):
    held = token    # this thread's frame keeps it
    release.wait()
    return held


def plant(token):
    global SECRET
    SECRET = token
    os.environ["FN_SECRET"] = token
    with open(TMPFILE, "w") as f:
        f.write(token)
    release = threading.Event()
    t = threading.Thread(target=hold, args=(token, release), daemon=True)
    t.start()
    HELD.append((t, release))
    HELD.append(subprocess.Popen(["/bin/sh", "-c", "read x", "fn-child", token],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL))


def probe(token):
    try:
        with open(TMPFILE) as f:
            tmp = int(token in f.read())
    except FileNotFoundError:
        tmp = 0
    return (f"global={int(SECRET == token)} env={int(os.environ.get('FN_SECRET') == token)} "
            f"tmp={tmp} threads={len(tasks())} children={children()} "
            f"seccomp={seccomp()} uid={os.getuid()}")


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main():
    # Warm every code path once, leaving nothing behind.
    probe("warm")
    say(f"ready threads={len(tasks())} children={children()}")
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "exit":
            break
        if words[0] == "plant" and len(words) == 2:
            plant(words[1])
            say("planted")
        elif words[0] == "probe" and len(words) == 2:
            say(probe(words[1]))
        else:
            say(f"error unknown request: {line.strip()}")


if __name__ == "__main__":
    main()
