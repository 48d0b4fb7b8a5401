#!/usr/bin/env bash
# Journal benchmark: SQLite against the disk's fsync rate, and PostgreSQL (a throwaway server
# with durable settings: fsync on, synchronous_commit on) with 1, 2 and 4 workers.
#   bench/agent_bench.sh [--cases N] [--appends N] [--repeats R]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bench/agent_journal_bench
[ -x "$bin" ] || { echo "build first: tools/setup.sh" >&2; exit 1; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
dir=$(mktemp -d /tmp/keel-bench-pg-XXXXXX)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; as_pg=(runuser -u postgres --); fi
cleanup() { "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
echo "[agent-bench] starting PostgreSQL in $dir" >&2
"${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" --auth=trust -U postgres >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-k $dir -c listen_addresses=''" start >/dev/null
"$bin" --dir "$(pwd)/build/journal-bench" --pg "postgresql:///postgres?host=$dir&user=postgres" "$@"
