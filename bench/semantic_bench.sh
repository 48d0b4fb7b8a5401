#!/bin/bash
# The semantic layer against the same SQL sent directly, on a throwaway PostgreSQL cluster.
#   bench/semantic_bench.sh [--rounds N]      (after a build: build/bench/semantic_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bench/semantic_bench
[ -x "$bin" ] || { echo "build first: cmake --build build --target semantic_bench" >&2; exit 1; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
dir=$(mktemp -d /tmp/keel-bench-pg-XXXXXX)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; as_pg=(runuser -u postgres --); fi
cleanup() { "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
"${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" --auth=trust -U postgres >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-k $dir -c listen_addresses=''" start >/dev/null
"$bin" --owner "postgresql:///postgres?host=$dir&user=postgres" \
       --reader "postgresql:///postgres?host=$dir&user=keel_reader" "$@"
