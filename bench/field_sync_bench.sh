#!/bin/bash
# Hybrid field: time for a device to converge after a partition heals, with 1, 10 and 100
# commands queued while offline, against `keel sync serve` on a PostgreSQL cluster it runs
# itself (loopback; the fault tests run the same over network namespaces). Medians of --rounds.
#   bench/field_sync_bench.sh [--rounds N]      (after a build: build/keel)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5
[ "${1:-}" = "--rounds" ] && rounds=$2
[ -x build/keel ] || { echo "build first: cmake --build build --target keel" >&2; exit 1; }
dir=$(mktemp -d /tmp/keel-field-bench-XXXXXX)
chmod 755 "$dir"  # the postgres user runs the cluster in $dir/pg
server=
cleanup() { [ -n "$server" ] && kill -INT "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
build/keel keygen --tenant tablet-a > "$dir/key.txt"
{ echo tenants:; tail -n 2 "$dir/key.txt"; } > "$dir/devices.yaml"
sed -n 's/^key.*: //p' "$dir/key.txt" > "$dir/device.key"
sed 's/allow: \[cloud.field.example\]/allow: [cloud.field.example, 127.0.0.1]/' examples/hybrid-field.yaml > "$dir/field.yaml"
build/keel sync serve --spec "$dir/field.yaml" --pg-data "$dir/pg" --keys "$dir/devices.yaml" --port 0 2>"$dir/serve.log" &
server=$!
for _ in $(seq 1 300); do grep -q "listening on http://" "$dir/serve.log" && break; sleep 0.1; done
url=$(grep -o "http://[0-9.:]*" "$dir/serve.log" | head -1)
[ -n "$url" ] || { cat "$dir/serve.log" >&2; exit 1; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf "%-8s %-14s %-16s %s\n" queued "converge ms" "per command ms" "sync rounds"
db="$dir/device.db"
made=0
for n in 1 10 100; do
  times=()
  for r in $(seq 1 "$rounds"); do
    for i in $(seq 1 "$n"); do
      made=$((made + 1))
      extra=(); [ "$made" = 1 ] && extra=(--device tablet-a)
      build/keel field do readings "R-$made" "value=$i" --store "$db" "${extra[@]}" >/dev/null
    done
    out=$(build/keel field sync --store "$db" --spec "$dir/field.yaml" --url "$url" --key-file "$dir/device.key" --json)
    ms=$(echo "$out" | sed -n 's/.*"ms": \([0-9.e+]*\).*/\1/p')
    applied=$(echo "$out" | sed -n 's/.*"applied": \([0-9]*\).*/\1/p')
    [ "$applied" = "$n" ] || { echo "round $r: applied $applied of $n" >&2; echo "$out" >&2; exit 1; }
    syncs=$(echo "$out" | sed -n 's/.*"rounds": \([0-9]*\).*/\1/p')
    times+=("$ms")
    echo "n=$n round $r/$rounds: ${ms} ms" >&2
  done
  m=$(printf "%s\n" "${times[@]}" | median)
  awk -v n="$n" -v m="$m" -v s="$syncs" 'BEGIN { printf "%-8s %-14.1f %-16.2f %s\n", n, m, m / n, s }'
done
echo "one device; before each sync it makes n commands offline; a sync = pull, reconcile, push, acknowledge, until nothing is left" >&2
