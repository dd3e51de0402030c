// SPDX-License-Identifier: GPL-2.0-only
// Echo: the smallest function there is; answers with its input, unchanged.
// The driver's input carries the digest the load generators look for.

function main(args) {
  return args;
}

module.exports.main = main;
