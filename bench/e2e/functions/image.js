// SPDX-License-Identifier: GPL-2.0-only
// Image-like buffer processing (a thumbnail/filter step): a w x h RGB buffer
// made from the seed, converted to grey, blurred with a 3x3 box filter
// (separable, edges clamped), then its histogram and the share of pixels
// above the mean. Same output as image.py; the digest is the SHA-256 of the
// blurred buffer.
const crypto = require('crypto');

function main(args) {
  const w = Number(args.w || 64);
  const h = Number(args.h || 64);
  const seed = Number(args.seed || 3);
  const rgb = new Uint8Array(w * h * 3);
  let i = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      rgb[i] = (x * 7 + y * 3 + seed) & 255;
      rgb[i + 1] = (x * y + seed * 5) & 255;
      rgb[i + 2] = ((x ^ y) * 11 + seed) & 255;
      i += 3;
    }
  }
  const grey = new Uint8Array(w * h);
  for (let p = 0; p < w * h; p++) {
    const q = p * 3;
    grey[p] = (77 * rgb[q] + 150 * rgb[q + 1] + 29 * rgb[q + 2]) >> 8;
  }
  const hs = new Uint16Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      hs[row + x] = grey[row + (x ? x - 1 : 0)] + grey[row + x] + grey[row + (x + 1 < w ? x + 1 : x)];
    }
  }
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const up = (y ? y - 1 : 0) * w;
    const mid = y * w;
    const down = (y + 1 < h ? y + 1 : y) * w;
    for (let x = 0; x < w; x++) out[mid + x] = Math.floor((hs[up + x] + hs[mid + x] + hs[down + x]) / 9);
  }
  const hist = new Array(256).fill(0);
  let sum = 0;
  for (const v of out) { hist[v] += 1; sum += v; }
  const mean = Math.floor(sum / out.length);
  let bright = 0;
  for (const v of out) if (v > mean) bright++;
  const peak = hist.indexOf(Math.max(...hist));
  return { w, h, mean, bright, peak,
           digest: crypto.createHash('sha256').update(out).digest('hex').slice(0, 16) };
}

module.exports.main = main;
