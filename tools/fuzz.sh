#!/usr/bin/env bash
# A time-boxed fuzzing campaign on one of Keel's parsers of untrusted input, with libFuzzer and
# AddressSanitizer + UndefinedBehaviorSanitizer (clang), starting from the committed seed corpus.
#
#   tools/fuzz.sh TARGET SECONDS      e.g. tools/fuzz.sh fuzz_gguf 300
#   tools/fuzz.sh all SECONDS         every target, SECONDS each
#
# Builds into build-fuzz/ (clang, -DKEEL_FUZZ=ON). New inputs go to build-fuzz/corpus/TARGET (not
# the committed seeds; copy interesting ones into tests/fuzz/corpus/ by hand), crashes to
# build-fuzz/crashes/TARGET/. Prints, per target: executions, executions/s, coverage (edges),
# features, corpus size and crashes; exits 1 when any target crashed. CI does not run campaigns:
# it replays the seed corpora (ctest label fuzz) on every build.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: tools/fuzz.sh TARGET|all SECONDS}
seconds=${2:?usage: tools/fuzz.sh TARGET|all SECONDS}
targets=(fuzz_json fuzz_json_schema fuzz_spec fuzz_tokenizer fuzz_gguf fuzz_extract fuzz_jsonrpc fuzz_http_request
         fuzz_openai_request fuzz_openai_types fuzz_metric_request fuzz_jwt fuzz_answer_api fuzz_onnx
         fuzz_model_manifest fuzz_edge_media)
[ "$target" = all ] || targets=("$target")

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEEL_FUZZ=ON \
    -DKEEL_SANITIZE=address,undefined -DKEEL_BUILD_BENCH=OFF >/dev/null
fi
cmake --build build-fuzz -j "${KEEL_JOBS:-$(nproc)}" --target "${targets[@]}" >&2

failed=0
printf '%-22s %12s %10s %8s %8s %8s %8s\n' target executions exec/s cov ft corpus crashes
for t in "${targets[@]}"; do
  seeds=tests/fuzz/corpus/${t#fuzz_}
  case "$t" in
    fuzz_http_request) seeds=tests/fuzz/corpus/http ;;
    fuzz_openai_request) seeds=tests/fuzz/corpus/openai ;;
  esac
  work=build-fuzz/corpus/$t crashes=build-fuzz/crashes/$t
  mkdir -p "$work" "$crashes"
  log=build-fuzz/$t.log
  status=0
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "build-fuzz/tests/fuzz/$t" "$work" "$seeds" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$crashes/" -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  found=$(find "$crashes" -type f | wc -l)
  printf '%-22s %12s %10s %8s %8s %8s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
    "$(find "$work" -type f | wc -l)" "$found"
  if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    echo "  $t: exit $status; see $log and $crashes/" >&2
  fi
done
exit $failed
