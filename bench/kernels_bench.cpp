// Google Benchmark micro-benchmarks of the engine's kernels, one per weight type, on one thread
// (the engine splits rows across threads; each thread runs exactly these loops).
//
//   gemv/<type>/<table>: a weight matrix of about 64 MB (out of cache) times one activation
//     row: decode. `of_bandwidth` is the weight bytes read per second over the one-thread
//     memory bandwidth measured at start-up: 1.0 is the physical limit.
//   gemm/<type>/<table>: 512 rows x 2048 times 16 activation rows (in cache): prompt processing.
//     `weights_x_tokens` is multiply-adds per second.
//
// The reference table runs too, so the fast path's gain is in the same output.
//   build/bench/kernels_bench [--benchmark_filter=Q4_0] [--benchmark_repetitions=3]
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <random>
#include <string>
#include <vector>

#include "engine/benchmark.h"
#include "engine/kernels.h"
#include "engine/quants.h"
#include "engine/tensor_type.h"

using namespace keel::engine;

namespace {

double g_bandwidth_gb_per_s = 0;  // one thread

struct Operands {
  std::vector<uint8_t> weights, activations;
  size_t row_bytes = 0, activation_bytes = 0;
};

Operands make_operands(TensorType type, int64_t n, int64_t rows, int64_t tokens) {
  Operands o;
  o.row_bytes = *row_bytes(type, static_cast<uint64_t>(n));
  o.weights.resize(o.row_bytes * rows);
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> row(n);
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = normal(rng);
    quantize_row(type, row.data(), o.weights.data() + r * o.row_bytes, n);
  }
  const ActivationType at = activation_type_for(type);
  o.activation_bytes = activation_row_bytes(at, n);
  o.activations.resize(o.activation_bytes * tokens);
  for (int64_t t = 0; t < tokens; ++t) {
    for (auto& v : row) v = normal(rng) * 20;
    reference_kernels().quantize_activation(at, row.data(), o.activations.data() + t * o.activation_bytes, n);
  }
  return o;
}

void gemv(benchmark::State& state, TensorType type, const KernelTable* table) {
  const int64_t n = 2048;
  const int64_t rows = std::max<int64_t>(64, (64 << 20) / static_cast<int64_t>(*row_bytes(type, n)));
  Operands o = make_operands(type, n, rows, 1);
  std::vector<float> y(rows);
  for (auto _ : state) {
    table->gemv(type, o.weights.data(), o.row_bytes, o.activations.data(), y.data(), n, rows);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(o.weights.size());
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
  state.counters["of_bandwidth"] =
      benchmark::Counter(bytes * static_cast<double>(state.iterations()) / (g_bandwidth_gb_per_s * 1e9),
                         benchmark::Counter::kIsRate);
}

void gemm(benchmark::State& state, TensorType type, const KernelTable* table) {
  const int64_t n = 2048, rows = 512, tokens = 16;
  Operands o = make_operands(type, n, rows, tokens);
  std::vector<float> y(rows * tokens);
  for (auto _ : state) {
    table->gemm(type, o.weights.data(), o.row_bytes, rows, o.activations.data(), o.activation_bytes, tokens,
                y.data(), rows, n);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["weights_x_tokens"] = benchmark::Counter(
      static_cast<double>(n * rows * tokens) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  g_bandwidth_gb_per_s = measure_memory_bandwidth(1).median;
  fmt::print(stderr, "kernels_bench: memory bandwidth, one thread: {:.1f} GB/s\n", g_bandwidth_gb_per_s);
  const KernelTable* fast = &kernels();
  const KernelTable* ref = &reference_kernels();
  for (TensorType type : {TensorType::f32, TensorType::f16, TensorType::bf16, TensorType::q8_0, TensorType::q4_0,
                          TensorType::q4_1, TensorType::q5_0, TensorType::q4_k, TensorType::q5_k, TensorType::q6_k}) {
    const std::string name(tensor_type_name(type));
    for (const KernelTable* table : {fast, ref}) {
      if (table == ref && fast == ref) continue;
      benchmark::RegisterBenchmark(fmt::format("gemv/{}/{}", name, table->name).c_str(),
                                   [type, table](benchmark::State& s) { gemv(s, type, table); })
          ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark(fmt::format("gemm/{}/{}", name, table->name).c_str(),
                                   [type, table](benchmark::State& s) { gemm(s, type, table); })
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
