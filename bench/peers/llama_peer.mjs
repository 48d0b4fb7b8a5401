// llama.cpp as a same-run peer for Keel's benchmarks, through node-llama-cpp's prebuilt CPU
// binaries (bench/peers/package.json pins the version).
//
// Contract: loadLlama() uses the prebuilt binary or fails with a message saying why; it never
// downloads llama.cpp or builds it from source (a build would be a different peer on every
// machine). The object it returns names the build: node-llama-cpp's version, the llama.cpp
// release it bundles, the ggml CPU variant loaded for this CPU and ggml's system info.
import {readFileSync} from "node:fs";
import process from "node:process";

// Belt and braces: the options below already say so, the environment covers code paths that
// read only the environment.
process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = "true";

export function fail(message) {
  process.stderr.write(`llama.cpp peer: ${message}\n`);
  process.exit(1);
}

export function parseArgs(argv, spec) {
  // spec: {name: [default, "int" | "float" | "string"]}; accepts --name V and -x V aliases.
  const out = {};
  for (const [name, [value]] of Object.entries(spec)) out[name] = value;
  const alias = {"-m": "model", "-p": "prompt", "-n": "gen", "-t": "threads", "-r": "reps", "-b": "batch"};
  for (let i = 0; i < argv.length; ++i) {
    const key = alias[argv[i]] ?? (argv[i].startsWith("--") ? argv[i].slice(2).replace(/-/g, "_") : null);
    if (key === null || !(key in spec)) fail(`unknown argument ${argv[i]}`);
    if (i + 1 >= argv.length) fail(`${argv[i]} needs a value`);
    const raw = argv[++i];
    const type = spec[key][1];
    const v = type === "int" ? Number.parseInt(raw, 10) : type === "float" ? Number.parseFloat(raw) : raw;
    if (type !== "string" && !Number.isFinite(v)) fail(`${argv[i - 1]}: not a number: ${raw}`);
    out[key] = v;
  }
  return out;
}

export async function loadLlama(threads) {
  let nlc;
  try {
    nlc = await import("node-llama-cpp");
  } catch (e) {
    fail(`node-llama-cpp is not installed in bench/peers (run npm ci there): ${e.message}`);
  }
  const version = JSON.parse(readFileSync(new URL("./node_modules/node-llama-cpp/package.json", import.meta.url))).version;
  let backend = null;
  const logger = (level, message) => {
    const m = /loaded CPU backend from (\S+)/.exec(message);
    if (m) backend = m[1].replace(/.*\/libggml-cpu-(.*)\.so$/, "$1");
    else if (level === "error" || level === "fatal") process.stderr.write(`llama.cpp: ${message}`);
  };
  let llama;
  try {
    llama = await nlc.getLlama({
      gpu: false,                 // the CPU build only: Keel's engine runs on the CPU
      build: "never",             // never compile llama.cpp: prebuilt binary or an error
      skipDownload: true,         // never fetch llama.cpp sources
      usePrebuiltBinaries: true,
      progressLogs: false,
      maxThreads: threads,
      logLevel: nlc.LlamaLogLevel.debug,  // for the "loaded CPU backend" line; lowered below
      logger,
    });
  } catch (e) {
    fail(`node-llama-cpp ${version}'s prebuilt CPU binary does not load on this machine ` +
         `(${e.message}). Keel's benchmarks do not build llama.cpp from source; ` +
         `no peer figure can be measured here.`);
  }
  if (llama.buildType !== "prebuilt") {
    fail(`node-llama-cpp loaded a ${llama.buildType} binary, not its prebuilt one; remove ` +
         `bench/peers/node_modules and run npm ci --ignore-scripts there`);
  }
  const release = llama.llamaCppRelease;
  const build = {
    name: "llama.cpp",
    package: `node-llama-cpp ${version}`,
    llama_cpp_repo: release.repo,
    llama_cpp_release: release.release,
    build_type: llama.buildType,
    cpu_backend: null,  // filled in by loadModel
    system_info: llama.systemInfo.trim(),
  };
  // ggml names the CPU variant it loads when the first model loads; after that, only warnings.
  const loadModel = async (options) => {
    const model = await llama.loadModel(options);
    llama.logLevel = nlc.LlamaLogLevel.warn;
    build.cpu_backend = backend;
    return model;
  };
  return {nlc, llama, build, loadModel};
}

// A small deterministic generator (mulberry32) so runs draw the same tokens.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function now() {
  return Number(process.hrtime.bigint()) / 1e9;
}

export function spread(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return {median: 0, min: 0, max: 0, samples};
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return {median, min: s[0], max: s[n - 1], samples};
}
