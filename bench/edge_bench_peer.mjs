// ONNX Runtime's per-frame latency on a model (the same-run peer of bench/edge_bench.sh), one
// thread, the same seeded normal input as `keel edge bench` draws (its values differ; the work
// does not). The runtime is `node` (onnxruntime-node, the native CPU build, pinned by
// bench/package-lock.json) or `web` (the Wasm build of the onnxruntime-web package the browser
// app pins). Prints "p50_ms p99_ms".
//   node bench/edge_bench_peer.mjs MODEL.onnx FRAMES node|web
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [model, framesText, runtime = 'web'] = process.argv.slice(2);
const native = runtime === 'node';
const ort = native
  ? createRequire(path.join(repo, 'bench/package.json'))('onnxruntime-node')
  : createRequire(path.join(repo, 'web/package.json'))('onnxruntime-web');
const frames = Number(framesText ?? 100);
if (!native) ort.env.wasm.numThreads = 1;
const session = native
  ? await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1,
                                              executionMode: 'sequential' })
  : await ort.InferenceSession.create(fs.readFileSync(model));
const meta = session.inputMetadata?.[0];
const shape = (meta?.shape ?? [1, 3, 96, 96]).map((d) => (typeof d === 'number' ? d : 1));
const n = shape.reduce((a, b) => a * b, 1);
const data = new Float32Array(n);
let seed = 7;
for (let i = 0; i < n; i++) { seed = (seed * 1103515245 + 12345) % 2147483648; data[i] = seed / 2147483648 - 0.5; }
const times = [];
for (let i = 0; i < frames + 5; i++) {
  const x = new ort.Tensor('float32', data, shape);
  const start = performance.now();
  const out = await session.run({ [session.inputNames[0]]: x });
  const took = performance.now() - start;
  for (const t of Object.values(out)) t.dispose();
  x.dispose();
  if (i >= 5) times.push(took);
}
times.sort((a, b) => a - b);
const at = (q) => times[Math.round(q * (times.length - 1))];
console.log(at(0.5).toFixed(4), at(0.99).toFixed(4));
await session.release();
