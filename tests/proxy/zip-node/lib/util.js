// SPDX-License-Identifier: GPL-2.0-only
exports.shout = (name) => `HELLO ${name.toUpperCase()}`;
