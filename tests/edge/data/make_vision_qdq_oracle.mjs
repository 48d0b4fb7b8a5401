// The expected outputs of the int8 QDQ vision model (models/vision/keel-vision-int8.onnx, made by
// tools/quantize_vision_model.py) from ONNX Runtime's native CPU build (onnxruntime-node, pinned
// by bench/package-lock.json): a peer that is not Keel, running its own int8 kernels.
//
//   node tests/edge/data/make_vision_qdq_oracle.mjs     (after `cd bench && npm ci --ignore-scripts`)
//
// Writes vision_qdq.expected.json: the probabilities of the first 20 canary images, and ONNX
// Runtime's accuracy on the whole held-out set.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const require = createRequire(path.join(repo, 'bench/package.json'));
const ort = require('onnxruntime-node');
const version = JSON.parse(fs.readFileSync(path.join(repo, 'bench/node_modules/onnxruntime-node/package.json'), 'utf8')).version;

function readKimg(file) {
  const data = fs.readFileSync(file);
  const length = Number(data.readBigUInt64LE(6));
  const header = JSON.parse(data.subarray(14, 14 + length).toString('utf8'));
  return { header, pixels: data.subarray(14 + length) };
}

const session = await ort.InferenceSession.create(path.join(repo, 'models/vision/keel-vision-int8.onnx'),
  { intraOpNumThreads: 1 });
async function classify(set, i) {
  const n = set.header.width * set.header.height;
  const x = new Float32Array(n);
  for (let j = 0; j < n; j++) x[j] = (set.pixels[i * n + j] / 255 - 0.5) / 0.25;
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 1, 32, 32]) });
  return Array.from(out[session.outputNames[0]].data);
}

const canary = readKimg(path.join(repo, 'examples/mobile-vision/canary.kimg'));
const expected = [];
for (let i = 0; i < 20; i++) expected.push(await classify(canary, i));
const heldout = readKimg(path.join(repo, 'examples/mobile-vision/heldout.kimg'));
let correct = 0;
for (let i = 0; i < heldout.header.count; i++) {
  const p = await classify(heldout, i);
  if (p.indexOf(Math.max(...p)) === heldout.header.targets[i]) correct++;
}
fs.writeFileSync(path.join(here, 'vision_qdq.expected.json'), JSON.stringify({
  producer: `onnxruntime-node ${version} (native CPU)`, images: 'canary.kimg 0..19',
  probabilities: expected, heldout_correct: correct, heldout_count: heldout.header.count,
}) + '\n');
console.log(`heldout accuracy through ONNX Runtime: ${correct}/${heldout.header.count}`);
