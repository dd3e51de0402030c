# SPDX-License-Identifier: GPL-2.0-only
def shout(name):
    return "HELLO %s" % name.upper()
