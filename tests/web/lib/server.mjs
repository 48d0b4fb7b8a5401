// Starts and stops `keel web serve` for the browser tests, and reads its /metrics.
//
//   startServer({spec, models?, measurements?, env?}) -> {url, origin, proc, log(), stop()}
//     Runs `$KEEL_BIN web serve --spec SPEC --listen 127.0.0.1:0 [--models DIR]
//     [--measurements FILE]` from the repository root and waits (30 s) for the stderr line
//     `keel web: listening on http://127.0.0.1:PORT`. KEEL_BIN defaults to build/keel; a
//     .mjs/.js KEEL_BIN runs with this Node (a stand-in server).
//   metrics(url) -> Map of 'name{labels}' -> number (Prometheus text format)
//   counter(m, name, labels?) -> the sum of the matching series, 0 when absent
//   specVariant(spec, dir, {remote}) -> a copy of the spec with remote_fallback changed
//   runKeel(args) -> {code, stdout, stderr} (the same binary, e.g. `keel model sign`)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const KEEL_BIN = path.resolve(REPO, process.env.KEEL_BIN ?? 'build/keel');

function command(args) {
  if (/\.(m?js)$/.test(KEEL_BIN)) return [process.execPath, [KEEL_BIN, ...args]];
  return [KEEL_BIN, args];
}

export function requireBinary() {
  if (!fs.existsSync(KEEL_BIN)) {
    throw new Error(`${KEEL_BIN} does not exist: build keel first, or set KEEL_BIN to the keel binary`);
  }
  const vendored = path.join(REPO, 'web/vendor/ort/ort.min.mjs');
  if (!fs.existsSync(vendored)) {
    throw new Error(`${vendored} is missing: run (cd web && npm ci && ./vendor.sh) first`);
  }
}

export function startServer({ spec, models, measurements, env = {} }) {
  const args = ['web', 'serve', '--spec', spec, '--listen', '127.0.0.1:0'];
  if (models) args.push('--models', models);
  if (measurements) args.push('--measurements', measurements);
  const [cmd, argv] = command(args);
  const proc = spawn(cmd, argv, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`keel web serve did not report its address within 30 s:\n${log}`));
    }, 30000);
    proc.stderr.on('data', (d) => {
      log += d;
      const m = /keel web: listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(log);
      if (m && timer) {
        clearTimeout(timer);
        const url = m[1];
        resolve({
          url: `${url}/`,
          origin: url,
          proc,
          log: () => log,
          stop: () =>
            new Promise((done) => {
              if (proc.exitCode !== null || proc.signalCode !== null) return done();
              proc.once('exit', () => done());
              proc.kill('SIGTERM');
              setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
            }),
        });
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`keel web serve exited (${code ?? signal}) before listening:\n${log}`));
    });
  });
}

export async function metrics(url) {
  const res = await fetch(new URL('/metrics', url));
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  const out = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

/** The sum of the series of `name` whose labels include `labels` (all of them when null). */
export function counter(m, name, labels = null) {
  const want = Object.entries(labels ?? {});
  let total = 0;
  for (const [key, value] of m) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (want.every(([k, v]) => key.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}

/**
 * A copy of a spec in `dir` with `deployment.remote_fallback` set to `remote` (when given):
 * its relative `path:` and `app:` values are made absolute, since they are relative to the
 * spec's folder.
 */
export function specVariant(spec, dir, { remote } = {}) {
  const base = path.dirname(spec);
  let text = fs.readFileSync(spec, 'utf8');
  text = text.replace(/(\b(?:path|app):\s*)(\.{1,2}\/[^\s,}]+)/g, (_, key, rel) => key + path.resolve(base, rel));
  if (remote) {
    if (!/remote_fallback: \S+/.test(text)) throw new Error(`${spec} has no remote_fallback line`);
    text = text.replace(/remote_fallback: \S+/, `remote_fallback: ${remote}`);
  }
  const out = path.join(dir, `${path.basename(spec, '.yaml')}-${remote ?? 'copy'}.yaml`);
  fs.writeFileSync(out, text);
  return out;
}

export function runKeel(args) {
  const [cmd, argv] = command(args);
  return new Promise((resolve) => {
    const p = spawn(cmd, argv, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
