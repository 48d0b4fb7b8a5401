// Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core
// (pinned in web/package.json), headless, --no-sandbox.
//
//   launch({webgpu?, webnn?, javaScriptEnabled?, args?}) -> {context, close()}
//     A persistent context in a fresh temporary profile, so the HTTP cache is on disk (an
//     off-the-record context's memory cache holds no large files) and Cache Storage works.
//     webgpu: SwiftShader WebGPU (--enable-unsafe-swiftshader --enable-unsafe-webgpu).
//     webnn: the WebNN feature (navigator.ml exists; createContext may still fail).
//   Always: --js-flags=--expose-gc (window.gc) and --enable-precise-memory-info.
//   waitForClassifier(page) -> the page state once ready or unavailable (window.keelApp)
//   lowMemory(context, gb) -> navigator.deviceMemory reads `gb` in every page of the context
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { REPO } from './server.mjs';

const require = createRequire(path.join(REPO, 'web/package.json'));
const { chromium } = require('playwright-core');

export const CHROMIUM = process.env.KEEL_CHROMIUM ?? '/usr/bin/chromium';
export const WEBGPU_ARGS = ['--enable-unsafe-swiftshader', '--enable-unsafe-webgpu'];
export const WEBNN_ARGS = ['--enable-features=WebMachineLearningNeuralNetwork'];

export async function launch({ webgpu = false, webnn = false, javaScriptEnabled = true, args = [] } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-web-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    javaScriptEnabled,
    args: [
      '--no-sandbox',
      '--js-flags=--expose-gc',
      '--enable-precise-memory-info',
      ...(webgpu ? WEBGPU_ARGS : []),
      ...(webnn ? WEBNN_ARGS : []),
      ...args,
    ],
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function waitForClassifier(page, timeout = 180000) {
  await page.waitForFunction(
    () => ['ready', 'unavailable'].includes(document.body.dataset.keelState) && window.keelApp,
    null,
    { timeout },
  );
  return page.evaluate(() => window.keelApp.state());
}

export async function lowMemory(context, gb) {
  await context.addInitScript((value) => {
    Object.defineProperty(Navigator.prototype, 'deviceMemory', { get: () => value, configurable: true });
  }, gb);
}

/** Every request a page makes, as {method, url, kind} (kind as the server counts it). */
export function recordRequests(page) {
  const seen = [];
  const onRequest = (r) => seen.push({ method: r.method(), url: r.url(), kind: kindOf(new URL(r.url()).pathname) });
  page.on('request', onRequest); // dedicated Workers' requests are the page's too
  return seen;
}

export function kindOf(pathname) {
  if (pathname === '/' || pathname === '/results') return 'page';
  if (pathname.startsWith('/assets/')) return 'asset';
  if (pathname === '/models/manifest.json') return 'manifest';
  if (pathname.startsWith('/models/')) return 'model';
  if (pathname.startsWith('/api/')) return 'api';
  return 'other';
}
