#!/usr/bin/env bash
# The main job on the embedded default: set up, then plan the local-research example and print
# the plan. (Later: the private research assistant answering a sample question.)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh >&2
exec build/keel plan examples/local-research.yaml
