# SPDX-License-Identifier: GPL-2.0-only
# Every common generator of Python, for the randomness audit: .values holds
# one draw of each (all must differ between activations), .hook_runs how
# often the action's own after-rewind hook ran since the checkpoint, and
# .activation_id the one the proxy passed. Each generator is drawn from at
# load time too, so that its state (and any cache) is in the checkpoint.
import os
import random
import secrets
import ssl
import tempfile
import uuid

import rewind_proxy

try:
    import numpy
except ImportError:
    numpy = None

MINE = random.Random(42)  # the action's own generator: its hook reseeds it
HOOK = {"runs": 0}


@rewind_proxy.after_rewind
def reseed_mine():
    MINE.seed(os.urandom(32))
    HOOK["runs"] += 1


def draw():
    values = {
        "random": random.random(),
        "getrandbits": "%016x" % random.getrandbits(64),
        "ssl_RAND_bytes": ssl.RAND_bytes(16).hex(),
        "urandom": os.urandom(16).hex(),
        "secrets": secrets.token_hex(16),
        "uuid4": str(uuid.uuid4()),
        "SystemRandom": random.SystemRandom().random(),
        "tempfile": next(tempfile._get_candidate_names()),
        "own_Random": MINE.random(),
    }
    if numpy is not None:
        values["numpy"] = float(numpy.random.random())
    return values


draw()


def main(args):
    return {"values": draw(), "hook_runs": HOOK["runs"], "numpy": numpy is not None,
            "activation_id": os.environ.get("__OW_ACTIVATION_ID")}
