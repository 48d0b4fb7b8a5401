#include "engine/quantizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "core/clock.h"
#include "core/thread_pool.h"
#include "engine/gguf.h"
#include "engine/gguf_writer.h"
#include "engine/quants.h"

namespace keel::engine {

namespace {

struct Scheme {
  std::string_view name;
  TensorType base;
  uint32_t file_type;  // general.file_type (llama_ftype)
  bool k_mix;          // Q4_K_M rules
};

constexpr Scheme kSchemes[] = {
    {"F32", TensorType::f32, 0, false},   {"F16", TensorType::f16, 1, false},
    {"BF16", TensorType::bf16, 32, false}, {"Q8_0", TensorType::q8_0, 7, false},
    {"Q4_0", TensorType::q4_0, 2, false}, {"Q4_1", TensorType::q4_1, 3, false},
    {"Q5_0", TensorType::q5_0, 8, false}, {"Q6_K", TensorType::q6_k, 18, false},
    {"Q4_K_M", TensorType::q4_k, 15, true},
};

// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third between.
bool use_more_bits(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

int64_t layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  return std::strtoll(name.c_str() + 4, nullptr, 10);
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A type that can hold rows of `cols` elements, falling back as llama.cpp does.
TensorType fit_row(TensorType t, uint64_t cols) {
  if (cols % tensor_type_info(t).block_size == 0) return t;
  if (t == TensorType::q4_k && cols % 32 == 0) return TensorType::q5_0;
  if ((t == TensorType::q6_k || t == TensorType::q5_k) && cols % 32 == 0) return TensorType::q8_0;
  if (cols % 32 == 0 && tensor_type_info(t).block_size == 32) return t;
  return TensorType::f16;
}

TensorType target_type(const GgufTensor& t, const Scheme& s, bool tied, int64_t n_layers) {
  const std::string& name = t.name;
  if (t.dims.size() < 2 || !ends_with(name, "weight") || name.find("_norm.weight") != std::string::npos ||
      name.find("position_embd") != std::string::npos || name.find("token_types") != std::string::npos) {
    return t.type;  // norms, biases, positions: as they are
  }
  const bool output_rule = name == "output.weight" || (tied && name == "token_embd.weight");
  if (s.base == TensorType::f32 || s.base == TensorType::f16 || s.base == TensorType::bf16) {
    return s.base;
  }
  if (output_rule) return fit_row(s.base == TensorType::q8_0 ? TensorType::q8_0 : TensorType::q6_k, t.dims[0]);
  if (s.k_mix) {
    int64_t layer = layer_of(name);
    bool more = layer >= 0 && use_more_bits(layer, n_layers) &&
                (name.find("attn_v.weight") != std::string::npos ||
                 name.find("ffn_down.weight") != std::string::npos);
    return fit_row(more ? TensorType::q6_k : TensorType::q4_k, t.dims[0]);
  }
  return fit_row(s.base, t.dims[0]);
}

}  // namespace

Result<QuantizeReport> quantize_model(const std::string& input, const std::string& output,
                                      std::string_view scheme_name, int threads,
                                      const std::function<void(const QuantizeProgress&)>& progress) {
  std::string upper(scheme_name);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  const Scheme* scheme = nullptr;
  for (const auto& s : kSchemes) {
    if (s.name == upper) scheme = &s;
  }
  if (!scheme) {
    return Status::invalid_argument(fmt::format(
        "unknown quantization '{}'; choose F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q6_K or Q4_K_M",
        scheme_name));
  }
  if (input == output) return Status::invalid_argument("input and output must be different files");
  const int64_t start_ns = monotonic_now_ns();
  KEEL_ASSIGN_OR_RETURN(auto in, GgufFile::open(input));
  KEEL_ASSIGN_OR_RETURN(std::string arch, in->get_string("general.architecture"));
  KEEL_ASSIGN_OR_RETURN(uint64_t n_layers, in->get_uint(arch + ".block_count"));
  const bool tied = in->tensor("output.weight") == nullptr;

  GgufWriter writer;
  for (const auto& [key, value] : in->metadata()) writer.copy_value(key, value);
  writer.set_u32("general.file_type", scheme->file_type);
  writer.set_u32("general.quantization_version", 2);

  QuantizeReport report;
  report.bytes_in = in->file_size();
  ThreadPool pool(std::max(1, threads));
  std::vector<uint8_t> out_bytes;
  const auto& tensors = in->tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensor& t = tensors[i];
    TensorType to = target_type(t, *scheme, tied, static_cast<int64_t>(n_layers));
    if (to == t.type) {
      KEEL_RETURN_IF_ERROR(writer.add_tensor_view(t.name, t.dims, t.type, {t.data, t.n_bytes}));
    } else {
      if (!tensor_type_info(t.type).computable) {
        return Status::unimplemented(fmt::format("tensor '{}' has type {}, which Keel cannot read",
                                                 t.name, tensor_type_name(t.type)));
      }
      const uint64_t cols = t.dims[0], rows = t.rows();
      const size_t in_row = t.n_bytes / rows, out_row = *row_bytes(to, cols);
      out_bytes.assign(out_row * rows, 0);
      // Rows are independent: convert them in parallel, each worker with its own buffer.
      pool.parallel_for(rows, [&](size_t begin, size_t end) {
        std::vector<float> row(cols);
        for (size_t r = begin; r < end; ++r) {
          dequantize_row(t.type, t.data + r * in_row, row.data(), cols);
          quantize_row(to, row.data(), out_bytes.data() + r * out_row, cols);
        }
      });
      KEEL_RETURN_IF_ERROR(writer.add_tensor(t.name, t.dims, to, out_bytes));
      ++report.quantized;
    }
    ++report.tensors;
    if (progress) {
      progress({i, tensors.size(), t.name, t.type, to, *row_bytes(to, t.dims[0]) * t.rows()});
    }
  }
  KEEL_RETURN_IF_ERROR(writer.write(output));
  auto stamp = GgufFile::open(output);
  if (!stamp.ok()) return stamp.status().with_context("the written file does not read back");
  report.bytes_out = (*stamp)->file_size();
  report.seconds = (monotonic_now_ns() - start_ns) / 1e9;
  return report;
}

}  // namespace keel::engine
