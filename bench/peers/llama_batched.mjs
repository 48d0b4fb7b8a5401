// llama.cpp's batched engine as an engine-level peer of `keel serve`, for bench/serve_bench.py:
// one context in which at most S sequences decode at once, C clients sending R requests in all,
// each client one after another (like `keel loadgen -c C -n R`), every request a P-token prompt
// followed by up to M generated tokens.
// node-llama-cpp gathers the pending tokens of all sequences into one llama_decode per step, as
// llama.cpp's server does; there is no HTTP, JSON or SSE on this side.
//
//   node bench/peers/llama_batched.mjs -m FILE [-t 2] [--clients 8] [--slots 8] [--requests 8]
//        [--prompt-tokens 68] [--max-tokens 128] [--temperature 0.7]
//
// A request waits when S sequences are busy; its time to first token counts from
// when the client sends it (the wait included) to when its first token is chosen. Each prompt is
// the BOS token (where the model adds one) and P-1 tokens of fixed English text, rotated by the
// request's index so that no two requests share more than the BOS token. A request stops after M
// tokens or at an end-of-generation token, as keel serve's do; generated_tokens counts what was
// generated. Prints one JSON object on stdout.
import {fail, loadLlama, now, parseArgs} from "./llama_peer.mjs";

const a = parseArgs(process.argv.slice(2), {
  model: ["", "string"],
  threads: [2, "int"],
  clients: [8, "int"],
  slots: [0, "int"],
  requests: [8, "int"],
  prompt_tokens: [68, "int"],
  max_tokens: [128, "int"],
  temperature: [0.7, "float"],
  batch: [512, "int"],
});
if (!a.model) fail("-m FILE is required");
if (a.slots === 0) a.slots = Math.min(a.clients, 8);
if (a.clients < 1 || a.slots < 1 || a.requests < 1 || a.prompt_tokens < 2 || a.max_tokens < 1) fail("bad arguments");

const {llama, build, loadModel} = await loadLlama(a.threads);
const model = await loadModel({modelPath: a.model, gpuLayers: 0});
// One sequence per request (and per warm-up request), at most S of them busy at a time: a
// request starts in a fresh sequence and never waits for another to finish. (Reusing a sequence
// needs clearHistory(), which waits for node-llama-cpp's context lock, and the dispatch loop keeps
// that lock while any other sequence still decodes: requests would start in waves.)
const context = await model.createContext({
  contextSize: a.prompt_tokens + a.max_tokens + 16,  // per sequence
  sequences: a.requests + 2,
  batchSize: a.batch,
  threads: {ideal: a.threads, min: a.threads},
});

const text = "The quick brown fox jumps over the lazy dog while the old river keeps running past the " +
             "quiet town, where every morning the baker opens his shop and sells fresh bread to the " +
             "people who walk by on their way to work in the fields and the factories near the hills. ";
let words = model.tokenize(text.repeat(Math.ceil(a.prompt_tokens / 40) + 1));
const bos = model.tokens.bos;
const addBos = model.tokens.shouldPrependBosToken && bos !== null;
const body = a.prompt_tokens - (addBos ? 1 : 0);
if (words.length < body) fail("prompt text too short");
words = words.slice(0, body);
const prompt = (index) => {
  const k = (index * 31) % body;
  const rotated = [...words.slice(k), ...words.slice(0, k)];
  return addBos ? [bos, ...rotated] : rotated;
};

let busy = 0;
const waiting = [];
const acquire = () => (busy < a.slots ? (++busy, Promise.resolve()) : new Promise((resolve) => waiting.push(resolve)));
const release = () => (waiting.length ? waiting.shift()() : --busy);

let next = 0;
const ttft = [], e2e = [], tpot = [];
let generated = 0, promptTokens = 0;
async function request(index, record) {
  const sent = now();
  await acquire();
  const sequence = context.getSequence();
  try {
    const tokens = prompt(index);
    let first = 0, count = 0;
    for await (const _ of sequence.evaluate(tokens, {temperature: a.temperature, seed: index})) {
      if (count === 0) first = now();
      if (++count >= a.max_tokens) break;
    }
    const end = now();
    if (record) {
      ttft.push((first - sent) * 1e3);
      e2e.push((end - sent) * 1e3);
      if (count > 1) tpot.push((end - first) * 1e3 / (count - 1));
      generated += count;
      promptTokens += tokens.length;
    }
  } finally {
    sequence.dispose();
    release();
  }
}
async function client() {
  while (next < a.requests) await request(next++, true);
}

// Warm-up (not counted): two short requests, as serve_bench.py warms up keel serve.
await Promise.all([request(1000, false), request(1001, false)]);
const start = now();
await Promise.all(Array.from({length: a.clients}, client));
const seconds = now() - start;

const pct = (v, q) => {
  const s = [...v].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))] : 0;
};
const out = {
  peer: build,
  engine_level: true,
  model: a.model,
  threads: context.currentThreads,
  slots: a.slots,
  clients: a.clients,
  batch: context.batchSize,
  context_size_per_sequence: context.contextSize,
  temperature: a.temperature,
  completed: ttft.length,
  prompt_tokens: promptTokens,
  generated_tokens: generated,
  seconds,
  tokens_per_s: generated / seconds,
  ttft_ms: {p50: pct(ttft, 0.5), p95: pct(ttft, 0.95), p99: pct(ttft, 0.99)},
  tpot_ms: {p50: pct(tpot, 0.5), p99: pct(tpot, 0.99)},
  e2e_ms: {p50: pct(e2e, 0.5), p99: pct(e2e, 0.99)},
  ttft_ms_samples: ttft,
};
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
