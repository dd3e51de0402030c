// SPDX-License-Identifier: GPL-2.0-only
// Image resizing with a native library on a worker pool (a thumbnail step):
// a w x h RGB image made from the seed, resized by sharp (libvips, whose
// worker threads sharp.concurrency() sizes) to half and to a quarter, the
// first encoded as JPEG and the second as PNG, both at once. The digest is
// the SHA-256 of the encoded bytes; threads is how many tasks the process
// had after the work (the pool's threads with it).
const crypto = require('crypto');
const fs = require('fs');
const sharp = require('sharp');

sharp.concurrency(Number(process.env.SHARP_CONCURRENCY || 2));
// Requests this process served (a state one request leaves to the next).
let calls = 0;

function imageOf(w, h, seed) {
  const buf = Buffer.alloc(w * h * 3);
  let i = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      buf[i++] = (x * 7 + y * 3 + seed) & 255;
      buf[i++] = (x * y + seed * 5) & 255;
      buf[i++] = ((x ^ y) * 11 + seed) & 255;
    }
  }
  return buf;
}

async function main(args) {
  calls += 1;
  const w = Number(args.w || 256);
  const h = Number(args.h || 192);
  const seed = Number(args.seed || 3);
  const raw = { raw: { width: w, height: h, channels: 3 } };
  const img = imageOf(w, h, seed);
  const [jpeg, png] = await Promise.all([
    sharp(img, raw).resize(w >> 1, h >> 1).jpeg({ quality: 80 }).toBuffer({ resolveWithObject: true }),
    sharp(img, raw).resize(w >> 2, h >> 2).png().toBuffer({ resolveWithObject: true }),
  ]);
  const digest = crypto.createHash('sha256').update(jpeg.data).update(png.data).digest('hex').slice(0, 16);
  return { jpeg: [jpeg.info.width, jpeg.info.height, jpeg.data.length],
           png: [png.info.width, png.info.height, png.data.length],
           calls, concurrency: sharp.concurrency(), threads: fs.readdirSync('/proc/self/task').length, digest };
}

module.exports.main = main;
