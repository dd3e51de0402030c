# SPDX-License-Identifier: GPL-2.0-only
# Returns its arguments (OpenWhisk's large-input test uses an echo too).
def main(args):
    return args
