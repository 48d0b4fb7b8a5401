#!/bin/sh
# Copies the ONNX Runtime Web files the app needs from node_modules into web/vendor/ort/,
# where `keel web serve` serves them under hashed URLs (docs/browser-classifier.md).
#
#   cd web && npm ci && ./vendor.sh
#
# ort.min.mjs is the smallest ESM bundle that registers the webnn, webgpu and wasm (cpu)
# backends; it loads the JSEP build of the runtime (ort-wasm-simd-threaded.jsep.{mjs,wasm}),
# which has SIMD, threads (when the page is cross-origin isolated), WebGPU and WebNN.
# ort.all.min.mjs would add only WebGL (not used); the other .wasm files are other builds.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/node_modules/onnxruntime-web/dist"
dst="$here/vendor/ort"
files="ort.min.mjs ort-wasm-simd-threaded.jsep.mjs ort-wasm-simd-threaded.jsep.wasm"

if [ ! -d "$src" ]; then
  echo "vendor.sh: $src is missing: run 'npm ci' in $here first" >&2
  exit 1
fi
version=$(node -p "require('$here/node_modules/onnxruntime-web/package.json').version")
pinned=$(node -p "require('$here/package.json').dependencies['onnxruntime-web']")
if [ "$version" != "$pinned" ]; then
  echo "vendor.sh: node_modules has onnxruntime-web $version, package.json pins $pinned: run 'npm ci'" >&2
  exit 1
fi

rm -rf "$dst"
mkdir -p "$dst"
for f in $files; do
  cp "$src/$f" "$dst/$f"
done
# The source maps are not copied: ort.min.mjs names its .map, which a browser fetches only
# with DevTools open (a 404 then, harmless).
echo "vendor.sh: copied onnxruntime-web $version ($files) to $dst"
