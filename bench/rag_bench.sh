#!/bin/bash
# keel rag serve's answers/s and latency at 1, 4 and 8 users, on a PostgreSQL cluster the server
# runs itself, with tokens from the example's identity provider.
#   bench/rag_bench.sh [--seconds S] [--rounds N]   (after a build: build/keel, build/bench/rag_answers_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bench/rag_answers_bench
[ -x "$bin" ] && [ -x build/keel ] || { echo "build first: cmake --build build --target keel rag_answers_bench" >&2; exit 1; }
dir=$(mktemp -d /tmp/keel-rag-bench-XXXXXX)
chmod 755 "$dir"  # the postgres user runs the cluster in $dir/pg
server=
cleanup() { [ -n "$server" ] && kill -INT "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
build/keel rag sample-identity --out "$dir/idp" >/dev/null
build/keel rag serve --pg-data "$dir/pg" --jwks "$dir/idp/jwks.json" --port 0 --threads 8 2>"$dir/serve.log" &
server=$!
for _ in $(seq 1 300); do grep -q "listening on http://" "$dir/serve.log" && break; sleep 0.1; done
url=$(grep -o "http://[0-9.:]*" "$dir/serve.log" | head -1)
[ -n "$url" ] || { cat "$dir/serve.log" >&2; exit 1; }
"$bin" --url "$url" --tokens "$dir/idp" "$@"
