// Published-model fixtures for the browser tests (docs/browser-classifier.md, "Signed
// manifest"): copies of what a running server publishes, altered.
//
//   fetchPublished(url, dir) -> {manifest, payload, modelFile, modelBytes}: GET
//     /models/manifest.json and the model it names from a running server into `dir` (the
//     layout `--models DIR` serves: manifest.json + sha256-<hex>.onnx)
//   tamperedCopy(url) -> dir: the published model with one byte flipped (manifest unchanged)
//   createSigningKey(dir) -> path of a new key file, made by the keel CLI
//   signModel(modelFile, keyFile, outDir) -> runs `keel model sign MODEL --key KEY --out DIR`
//   wrongKeyCopy(url) -> dir: the same model signed by a key the deployment does not pin
//   tempDir(prefix) -> a new temporary directory; removeTempDirs() removes them all
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runKeel } from './server.mjs';

const made = [];

export function tempDir(prefix = 'keel-web-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every directory tempDir() made (call once the servers using them stopped). */
export function removeTempDirs() {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export async function fetchPublished(url, dir) {
  const res = await fetch(new URL('/models/manifest.json', url));
  if (!res.ok) throw new Error(`GET /models/manifest.json answered ${res.status}`);
  const text = await res.text();
  const manifest = JSON.parse(text);
  const payload = JSON.parse(manifest.payload);
  const asset = payload.assets.find((a) => a.role === 'model');
  const model = await fetch(new URL(`/models/${asset.path}`, url));
  if (!model.ok) throw new Error(`GET /models/${asset.path} answered ${model.status}`);
  const modelBytes = Buffer.from(await model.arrayBuffer());
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'manifest.json'), text);
  const modelFile = path.join(dir, asset.path);
  fs.writeFileSync(modelFile, modelBytes);
  return { manifest, payload, asset, modelFile, modelBytes };
}

export async function tamperedCopy(url) {
  const dir = tempDir('keel-web-tampered-');
  const { modelFile, modelBytes } = await fetchPublished(url, dir);
  const bytes = Buffer.from(modelBytes);
  const at = Math.floor(bytes.length / 2); // inside the weights: still a loadable ONNX file
  bytes[at] ^= 0x01;
  fs.writeFileSync(modelFile, bytes);
  return dir;
}

// `keel model keygen --publisher NAME --out KEY.json`: a key the deployment does not pin.
export async function createSigningKey(dir) {
  const key = path.join(dir, 'other-publisher.key.json');
  const r = await runKeel(['model', 'keygen', '--publisher', 'other-publisher', '--out', key]);
  if (r.code !== 0) throw new Error(`keel model keygen failed (${r.code}): ${r.stderr}`);
  return key;
}

export async function signModel(modelFile, keyFile, outDir) {
  const r = await runKeel(['model', 'sign', modelFile, '--key', keyFile, '--out', outDir]);
  if (r.code !== 0) throw new Error(`keel model sign failed (${r.code}): ${r.stderr}`);
  return outDir;
}

export async function wrongKeyCopy(url) {
  const work = tempDir('keel-web-wrongkey-');
  const { modelFile } = await fetchPublished(url, path.join(work, 'original'));
  const key = await createSigningKey(work);
  return signModel(modelFile, key, path.join(work, 'published'));
}
