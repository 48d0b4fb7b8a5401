// Unit tests of web/featurizer.js (`keel-hashed-bow-v1`, docs/browser-classifier.md) against
// the cross-language oracle tests/edge/data/featurizer_oracle.json, which
// tools/train_doc_classifier.py writes from the Python recipe: for each text, the token count
// and the non-zero feature indices (ascending) and values (float32), and for the held-out
// documents the trained model's probabilities.
//
//   node --test tests/web/featurizer_test.mjs      (the model check needs `npm ci` in web/)
//
// Checks: the same non-zero indices, values within 1e-6, the same token count; and the
// published model, run by ONNX Runtime Web (its Node build, Wasm) on the JS features, gives the
// oracle's probabilities within 1e-4 and the same argmax.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ORACLE = path.join(REPO, 'tests/edge/data/featurizer_oracle.json');
const { featurize, tokenize, fnv1aString, FEATURIZER_NAME } = await import(pathToFileURL(path.join(REPO, 'web/featurizer.js')).href);

const oracle = JSON.parse(fs.readFileSync(ORACLE, 'utf8'));
const cases = [...oracle.documents, ...oracle.edge_cases];

function nonZero(x) {
  const indices = [];
  const values = [];
  x.forEach((v, i) => {
    if (v !== 0) {
      indices.push(i);
      values.push(v);
    }
  });
  return { indices, values };
}

test('the oracle is for this featurizer', () => {
  assert.equal(oracle.featurizer.name, FEATURIZER_NAME);
  assert.ok(oracle.documents.length >= 20, 'at least 20 documents');
});

test('FNV-1a 32-bit matches the published test vectors', () => {
  assert.equal(fnv1aString(''), 0x811c9dc5);
  assert.equal(fnv1aString('a'), 0xe40c292c);
  assert.equal(fnv1aString('foobar'), 0xbf9cf968);
});

test('features match the Python recipe (indices exact, values within 1e-6)', () => {
  for (const [n, c] of cases.entries()) {
    const what = `case ${n} (${JSON.stringify(c.text.slice(0, 40))})`;
    const x = featurize(c.text, oracle.featurizer);
    assert.ok(x instanceof Float32Array && x.length === oracle.featurizer.dims, what);
    const got = nonZero(x);
    assert.deepEqual(got.indices, c.indices, `${what}: non-zero indices`);
    for (let i = 0; i < c.values.length; i++) {
      assert.ok(Math.abs(got.values[i] - c.values[i]) <= 1e-6, `${what}: x[${c.indices[i]}] = ${got.values[i]}, oracle ${c.values[i]}`);
    }
    assert.equal(tokenize(c.text, oracle.featurizer.max_tokens).starts.length, c.tokens, `${what}: tokens`);
  }
});

test('featurize fills a given output vector (a batch row) in place', () => {
  const dims = oracle.featurizer.dims;
  const batch = new Float32Array(2 * dims).fill(7);
  const text = oracle.documents[0].text;
  featurize(text, oracle.featurizer, batch.subarray(dims));
  assert.deepEqual(Array.from(batch.subarray(dims)), Array.from(featurize(text, oracle.featurizer)));
  assert.ok(batch.subarray(0, dims).every((v) => v === 7), 'the other row is untouched');
});

test('the published model gives the oracle probabilities on the JS features (ONNX Runtime Web, Node)', async () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO, 'models/doc-classifier/manifest.json'), 'utf8'));
  const payload = JSON.parse(manifest.payload);
  const asset = payload.assets.find((a) => a.role === 'model');
  const require = createRequire(path.join(REPO, 'web/package.json'));
  const ort = require('onnxruntime-web'); // the Node build: Wasm, no browser needed
  const session = await ort.InferenceSession.create(fs.readFileSync(path.join(REPO, 'models/doc-classifier', asset.path)));
  const dims = payload.featurizer.dims;
  const docs = oracle.documents;
  const x = new Float32Array(docs.length * dims);
  docs.forEach((d, i) => featurize(d.text, payload.featurizer, x.subarray(i * dims, (i + 1) * dims)));
  const input = new ort.Tensor('float32', x, [docs.length, dims]);
  const out = await session.run({ [payload.inputs[0].name]: input });
  const probs = out[payload.outputs[0].name].data;
  const n = payload.labels.length;
  docs.forEach((d, i) => {
    const row = Array.from(probs.subarray(i * n, (i + 1) * n));
    for (let k = 0; k < n; k++) {
      assert.ok(Math.abs(row[k] - d.probabilities[k]) <= 1e-4, `document ${i}: p[${payload.labels[k]}] = ${row[k]}, oracle ${d.probabilities[k]}`);
    }
    const argmax = (p) => p.indexOf(Math.max(...p));
    assert.equal(argmax(row), argmax(d.probabilities), `document ${i}: label`);
  });
  input.dispose();
  for (const t of Object.values(out)) t.dispose();
  await session.release();
});
