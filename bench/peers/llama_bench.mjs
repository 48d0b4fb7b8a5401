// Prompt processing and generation speed of llama.cpp on a GGUF file, measured the way
// `llama-bench -p P -n N -t T` and `keel bench` measure it, for bench/engine_bench.sh.
//
//   node bench/peers/llama_bench.mjs -m FILE [-p 128] [-n 64] [-t 2] [-r 1] [-b 512]
//
// pp: P random tokens evaluated into an empty sequence (batches of -b tokens).
// tg: N tokens decoded one at a time into an empty sequence, each with its logits computed
// (greedy choice of the next token, as cheap as llama-bench's and keel bench's none).
// One warm-up of each runs first and is not counted. Prints one JSON object on stdout: the
// llama.cpp build (llama_peer.mjs), the settings, and tokens/s as {median, min, max, samples}.
import {fail, loadLlama, now, parseArgs, rng, spread} from "./llama_peer.mjs";

const a = parseArgs(process.argv.slice(2), {
  model: ["", "string"],
  prompt: [128, "int"],
  gen: [64, "int"],
  threads: [2, "int"],
  reps: [1, "int"],
  batch: [512, "int"],
});
if (!a.model) fail("-m FILE is required");
if (a.prompt < 0 || a.gen < 0 || a.threads < 1 || a.reps < 1 || a.batch < 1) fail("bad arguments");

const {llama, build, loadModel} = await loadLlama(a.threads);
const model = await loadModel({modelPath: a.model, gpuLayers: 0});
const vocab = model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length;
if (!vocab) fail(`${a.model}: no tokenizer.ggml.tokens in the file`);
const context = await model.createContext({
  contextSize: a.prompt + a.gen + 16,
  batchSize: Math.max(1, Math.min(a.batch, Math.max(a.prompt, 1))),
  sequences: 1,
  threads: {ideal: a.threads, min: a.threads},
});
const sequence = context.getSequence();
const draw = rng(42);
const token = () => Math.floor(draw() * vocab);

async function runPrompt() {
  const tokens = Array.from({length: a.prompt}, token);
  await sequence.clearHistory();
  const start = now();
  await sequence.evaluateWithoutGeneratingNewTokens(tokens);
  return now() - start;
}

async function runGeneration() {
  await sequence.clearHistory();
  const start = now();
  let produced = 0;
  // Each step decodes the previous token and picks the next one from its logits.
  for await (const _ of sequence.evaluate([token()], {temperature: 0})) {
    if (++produced >= a.gen) break;
  }
  return now() - start;
}

if (a.prompt > 0) await runPrompt();
if (a.gen > 0) await runGeneration();
const pp = [], tg = [];
for (let r = 0; r < a.reps; ++r) {
  if (a.prompt > 0) pp.push(a.prompt / await runPrompt());
  if (a.gen > 0) tg.push(a.gen / await runGeneration());
}
const out = {
  peer: build,
  model: a.model,
  model_type: model.typeDescription,
  threads: context.currentThreads,
  batch: context.batchSize,
  context_size: context.contextSize,
  flash_attention: context.flashAttention,
  prompt_tokens: a.prompt,
  gen_tokens: a.gen,
  pp_tokens_per_s: spread(pp),
  tg_tokens_per_s: spread(tg),
};
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
