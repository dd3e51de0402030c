// SPDX-License-Identifier: GPL-2.0-only
// Entry of a binary (zip) Node action named by package.json's "main".
const { shout } = require('./util');

exports.main = async (params) => ({ shout: shout(params.name || 'nobody') });
