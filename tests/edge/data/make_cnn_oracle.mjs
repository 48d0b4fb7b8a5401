// The expected outputs of the CNN graphs make_cnn_oracle.py wrote, from ONNX Runtime (the
// onnxruntime-web package the browser app pins, its Node/Wasm build): a peer that is not Keel.
//
//   node tests/edge/data/make_cnn_oracle.mjs      (after `cd web && npm ci`)
//
// Writes cnn_<name>.expected.json: {"producer", "shape", "values"} beside each model.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const require = createRequire(path.join(repo, 'web/package.json'));
const ort = require('onnxruntime-web');
const version = JSON.parse(fs.readFileSync(path.join(repo, 'web/node_modules/onnxruntime-web/package.json'), 'utf8')).version;

for (const file of fs.readdirSync(here).filter((f) => /^cnn_.*\.onnx$/.test(f)).sort()) {
  const name = file.replace(/\.onnx$/, '');
  const input = JSON.parse(fs.readFileSync(path.join(here, `${name}.input.json`), 'utf8'));
  const session = await ort.InferenceSession.create(fs.readFileSync(path.join(here, file)));
  const x = new ort.Tensor('float32', Float32Array.from(input.values), input.shape);
  const out = await session.run({ [session.inputNames[0]]: x });
  const y = out[session.outputNames[0]];
  fs.writeFileSync(path.join(here, `${name}.expected.json`),
    JSON.stringify({ producer: `onnxruntime-web ${version} (Node, Wasm)`, shape: y.dims, values: Array.from(y.data) }));
  console.log(`${name}: output ${JSON.stringify(y.dims)}`);
  await session.release();
}
