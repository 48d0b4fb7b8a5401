#!/usr/bin/env bash
# The main job on the embedded default: set up, then run the private research assistant of
# examples/local-research.yaml on its bundled documents and tiny models (no server, no network:
# the egress guard is on), answering the sample question with citations.
#   tools/demo.sh ["your question"]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --demo >&2
question=${1:-$(cat examples/local-research/sample_question.txt)}
exec build/keel run examples/local-research.yaml --question "$question"
