// gguf-assemble: writes a GGUF file with Keel's writer from a JSON manifest and raw float32
// tensor data — the last step of the recipes in tools/ that train Keel's own tiny models
// (training happens in Python; the file format is Keel's).
//
//   gguf-assemble MANIFEST.json OUT.gguf
//
// Manifest:
//   {"metadata": [{"key": "general.architecture", "type": "string", "value": "llama"},
//                 {"key": "llama.block_count", "type": "u32", "value": 4},
//                 {"key": "tokenizer.ggml.tokens", "type": "string[]", "value": ["<unk>", ...]},
//                 {"key": "tokenizer.ggml.scores", "type": "f32[]", "value": [0.0, ...]}, ...],
//    "data": "weights.bin",                     (relative to the manifest)
//    "tensors": [{"name": "token_embd.weight", "dims": [64, 512], "type": "Q8_0",
//                 "offset": 0}, ...]}           (offset in bytes of float32 data, dims ne0 first)
// Types: u32, i32, u64, f32, bool, string, string[], f32[], i32[]; tensor types F32, F16, BF16,
// Q8_0, Q4_0, Q4_K, Q6_K, ... (quantized here from the float32 data).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json.h"
#include "engine/gguf_writer.h"
#include "engine/quants.h"

using namespace keel;
using namespace keel::engine;

namespace {

Status add_metadata(GgufWriter& w, const Json& m) {
  const std::string key = m.at("key").get<std::string>();
  const std::string type = m.at("type").get<std::string>();
  const Json& v = m.at("value");
  if (type == "u32") w.set_u32(key, v.get<uint32_t>());
  else if (type == "i32") w.set_i32(key, v.get<int32_t>());
  else if (type == "u64") w.set_u64(key, v.get<uint64_t>());
  else if (type == "f32") w.set_f32(key, v.get<float>());
  else if (type == "bool") w.set_bool(key, v.get<bool>());
  else if (type == "string") w.set_string(key, v.get<std::string>());
  else if (type == "string[]") w.set_strings(key, v.get<std::vector<std::string>>());
  else if (type == "f32[]") w.set_f32s(key, v.get<std::vector<float>>());
  else if (type == "i32[]") w.set_i32s(key, v.get<std::vector<int32_t>>());
  else return Status::invalid_argument("metadata " + key + ": unknown type " + type);
  return Status();
}

Status assemble(const std::string& manifest_path, const std::string& out_path) {
  std::ifstream in(manifest_path);
  if (!in) return Status::not_found("cannot read " + manifest_path);
  std::stringstream text;
  text << in.rdbuf();
  KEEL_ASSIGN_OR_RETURN(Json manifest, parse_json(text.str(), 16));
  try {
    GgufWriter w;
    for (const auto& m : manifest.at("metadata")) KEEL_RETURN_IF_ERROR(add_metadata(w, m));
    auto data_path = std::filesystem::path(manifest_path).parent_path() / manifest.at("data").get<std::string>();
    std::ifstream data(data_path, std::ios::binary);
    if (!data) return Status::not_found("cannot read " + data_path.string());
    for (const auto& t : manifest.at("tensors")) {
      const std::string name = t.at("name").get<std::string>();
      auto dims = t.at("dims").get<std::vector<uint64_t>>();
      auto type = parse_tensor_type(t.at("type").get<std::string>());
      if (!type) return Status::invalid_argument(name + ": unknown tensor type");
      uint64_t n = 1;
      for (uint64_t d : dims) n *= d;
      std::vector<float> values(n);
      data.seekg(static_cast<std::streamoff>(t.at("offset").get<uint64_t>()));
      data.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(n * 4));
      if (!data) return Status::data_loss(name + ": the data file is too short");
      auto rb = row_bytes(*type, dims[0]);
      if (!rb) return Status::invalid_argument(name + ": rows do not fit the type's blocks");
      std::vector<uint8_t> bytes(*rb * (n / dims[0]));
      for (uint64_t r = 0; r < n / dims[0]; ++r) {
        if (!quantize_row(*type, values.data() + r * dims[0], bytes.data() + r * *rb, static_cast<int64_t>(dims[0]))) {
          return Status::invalid_argument(name + ": Keel cannot write that type");
        }
      }
      KEEL_RETURN_IF_ERROR(w.add_tensor(name, dims, *type, bytes));
    }
    return w.write(out_path);
  } catch (const std::exception& e) {
    return Status::invalid_argument(std::string("malformed manifest: ") + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: gguf-assemble MANIFEST.json OUT.gguf\n");
    return 1;
  }
  Status s = assemble(argv[1], argv[2]);
  if (!s.ok()) {
    std::fprintf(stderr, "gguf-assemble: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("wrote %s\n", argv[2]);
  return 0;
}
