// SPDX-License-Identifier: GPL-2.0-only
// Every common generator of Node, for the randomness audit: .values holds
// one draw of each (all must differ between activations), .hook_runs and
// .global_hook_runs how often the action's own after-rewind hooks ran since
// the checkpoint, .activation_id the one the proxy passed. Each synchronous
// generator is drawn from at load time too, so that its state (and any cache:
// randomUUID's, randomInt's) is in the checkpoint; the asynchronous calls are
// not, since their jobs on libuv's pool could still be running when the proxy
// takes the checkpoint (their completion, an eventfd write, is not rewound).
// The keys (ec_keypair, ecdh_keys, hmac_key, subtle_hmac_key_async) are what
// OpenSSL draws for itself, from its own DRBGs: fresh only when the launcher
// reseeded OpenSSL (launcher_native.node).
'use strict';
const crypto = require('crypto');
const { promisify } = require('util');

const hex = (v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
// The action's own generator (a 32-bit LCG): its hook reseeds it.
let mine = 42;
const own = () => (mine = (Math.imul(mine, 1664525) + 1013904223) >>> 0);
const hooks = { runs: 0, global: 0 };

module.exports.afterRewind = () => {
  mine = crypto.randomBytes(4).readUInt32LE(0);
  hooks.runs++;
};
if (globalThis.rewindProxy) globalThis.rewindProxy.afterRewind(async () => { hooks.global++; });

function drawSync() {
  return {
    Math_random: Math.random(),
    randomBytes: crypto.randomBytes(16).toString('hex'),
    randomFillSync: hex(crypto.randomFillSync(new Uint32Array(4))),
    randomFillSync_offset: hex(crypto.randomFillSync(Buffer.alloc(32), 16).subarray(16)),
    randomUUID: crypto.randomUUID(),
    randomUUID_nocache: crypto.randomUUID({ disableEntropyCache: true }),
    getRandomValues: hex(crypto.getRandomValues(new Uint8Array(16))),
    webcrypto_getRandomValues: hex(crypto.webcrypto.getRandomValues(new Uint16Array(8))),
    globalThis_crypto_getRandomValues: hex(globalThis.crypto.getRandomValues(new Uint8Array(16))),
    webcrypto_randomUUID: crypto.webcrypto.randomUUID(),
    randomInt: crypto.randomInt(2 ** 47),
    own_generator: own(),
    ec_keypair: crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
    ecdh_keys: crypto.createECDH('prime256v1').generateKeys('hex'),
    hmac_key: crypto.generateKeySync('hmac', { length: 256 }).export().toString('hex'),
  };
}

async function drawAsync() {
  return {
    randomBytes_async: (await promisify(crypto.randomBytes)(16)).toString('hex'),
    randomFill: hex(await promisify(crypto.randomFill)(Buffer.alloc(16))),
    randomInt_async: await promisify(crypto.randomInt)(1000, 2 ** 47),
    subtle_hmac_key_async: hex(new Uint8Array(await crypto.subtle.exportKey('raw',
      await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign'])))),
  };
}

drawSync();

async function main() {
  const values = { ...drawSync(), ...await drawAsync() };
  return { values, hook_runs: hooks.runs, global_hook_runs: hooks.global,
           activation_id: process.env.__OW_ACTIVATION_ID };
}
module.exports.main = main;
