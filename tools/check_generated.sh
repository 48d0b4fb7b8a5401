#!/usr/bin/env bash
# Checks that every generated source file is what its generator makes today (ctest runs this as
# generated_files_are_current). A difference means someone edited the output by hand or changed
# the generator without regenerating: the message says which command regenerates the file.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
# file | command that writes it to stdout
while IFS='|' read -r file command; do
  [ -n "$file" ] || continue
  if ! diff -q <(eval "$command") "$file" >/dev/null; then
    echo "$file is not what its generator makes; regenerate it with: $command > $file" >&2
    status=1
  else
    echo "$file: current"
  fi
done <<'LIST'
src/engine/unicode_data.cpp|/usr/bin/python3 tools/gen_unicode_data.py
LIST
exit $status
