#include "edge/prepared_program.h"

#include <fmt/format.h>

#include <cstring>

#include "core/file_io.h"
#include "core/hash.h"

namespace keel::edge {

namespace {

constexpr std::string_view kMagic = "KPROG1\n";
constexpr uint64_t kMaxProgramBytes = 512ull << 20;
constexpr uint64_t kMaxHeaderBytes = 16ull << 20;

}  // namespace

Json PreparedProgram::header() const {
  Json parts = Json::array();
  for (const auto& p : partitions.partitions) {
    parts.push_back(Json{{"delegate", p.delegate},
                         {"first_node", p.first_node},
                         {"nodes", p.node_count},
                         {"macs", p.macs}});
  }
  Json nodes = Json::array();
  for (const auto& n : partitions.nodes) {
    Json j{{"node", n.node}, {"op", n.op_type}, {"delegate", n.delegate}, {"macs", n.macs}};
    if (!n.why_not_accelerated.empty()) j["why_not_accelerated"] = n.why_not_accelerated;
    nodes.push_back(std::move(j));
  }
  Json buffers = Json::array();
  for (const auto& b : memory.buffers) {
    buffers.push_back(Json{{"value", b.value},
                           {"bytes", b.bytes},
                           {"offset", b.offset},
                           {"first_step", b.first_step},
                           {"last_step", b.last_step}});
  }
  return Json{{"keel_program", 1},
              {"device", device},
              {"device_class", device_class},
              {"input_shape", input_shape},
              {"model_sha256", model_sha256},
              {"folded_batch_norms", folded_batch_norms},
              {"coverage", Json{{"nodes", partitions.node_coverage},
                                {"macs", partitions.mac_coverage},
                                {"total_macs", partitions.total_macs}}},
              {"partitions", parts},
              {"nodes", nodes},
              {"memory", Json{{"arena_bytes", memory.arena_bytes},
                              {"naive_bytes", memory.naive_bytes},
                              {"buffers", buffers}}}};
}

Result<PreparedProgram> prepare_program(std::string model_bytes, const DeviceProfile& device,
                                        const PrepareOptions& options) {
  KEEL_ASSIGN_OR_RETURN(OnnxGraph graph, parse_onnx(model_bytes));
  if (graph.inputs.size() != 1)
    return Status::unimplemented(
        fmt::format("a prepared program takes one input; the model has {}", graph.inputs.size()));
  const ValueInfo input = graph.inputs[0];
  std::vector<int64_t> shape = options.input_shape;
  if (shape.empty()) {
    for (size_t d = 0; d < input.dims.size(); ++d) {
      if (input.dims[d].size >= 0) {
        shape.push_back(input.dims[d].size);
      } else if (d == 0) {
        shape.push_back(1);  // the batch: one frame at a time
      } else {
        return Status::invalid_argument(fmt::format(
            "input '{}' dimension {} is symbolic ('{}'): give the shape (--input-shape)",
            input.name, d, input.dims[d].symbol));
      }
    }
  }
  KEEL_ASSIGN_OR_RETURN(GraphRuntime runtime, GraphRuntime::prepare(std::move(graph)));
  KEEL_ASSIGN_OR_RETURN(ValueShapes shapes, runtime.value_shapes({{input.name, shape}}));
  PreparedProgram p;
  p.model_sha256 = sha256_hex(model_bytes);
  p.model_bytes = std::move(model_bytes);
  p.device = device.name;
  p.device_class = device.device_class;
  p.input_shape = shape;
  p.partitions = partition(runtime.graph(), shapes, device);
  p.memory = plan_memory(runtime.graph(), shapes);
  p.folded_batch_norms = runtime.folded_batch_norms();
  return p;
}

Status check_bounds(const PreparedProgram& program, const ProgramBounds& bounds) {
  const auto& plan = program.partitions;
  if (bounds.min_coverage > 0 && plan.mac_coverage + 1e-12 < bounds.min_coverage) {
    return Status::failed_precondition(fmt::format(
        "delegate coverage {:.1f}% of MACs ({:.1f}% of nodes) on {} is below the bound {:.1f}%",
        100 * plan.mac_coverage, 100 * plan.node_coverage, program.device,
        100 * bounds.min_coverage));
  }
  if (bounds.max_partitions > 0 &&
      static_cast<int64_t>(plan.partitions.size()) > bounds.max_partitions) {
    return Status::failed_precondition(fmt::format(
        "{} partitions on {} exceed the bound {} (each boundary is a copy between delegates)",
        plan.partitions.size(), program.device, bounds.max_partitions));
  }
  return Status();
}

Result<BoundedPreparation> prepare_within_bounds(std::string model_bytes,
                                                 std::optional<std::string> fallback_bytes,
                                                 const DeviceProfile& device,
                                                 const PrepareOptions& options,
                                                 const ProgramBounds& bounds) {
  KEEL_ASSIGN_OR_RETURN(PreparedProgram main, prepare_program(std::move(model_bytes), device, options));
  BoundedPreparation out;
  Status within = check_bounds(main, bounds);
  if (within.ok()) {
    out.program = std::move(main);
    return out;
  }
  if (!fallback_bytes) return within;
  DeviceProfile cpu = portable_only_profile();
  cpu.name = device.name;
  cpu.device_class = device.device_class;
  auto small = prepare_program(std::move(*fallback_bytes), cpu, options);
  if (!small.ok())
    return Status(small.status().code(), "the fallback model: " + std::string(small.status().message()));
  out.program = std::move(*small);
  out.refused = std::move(main);
  out.refusal = std::string(within.message());
  return out;
}

std::string program_bytes(const PreparedProgram& program) {
  const std::string header = dump_json(program.header());
  std::string out(kMagic);
  uint64_t length = header.size();
  char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  out.append(le, 8);
  out += header;
  out += program.model_bytes;
  const Sha256Digest digest = sha256(out);
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return out;
}

Result<std::string> write_program(const std::string& path, const PreparedProgram& program) {
  const std::string bytes = program_bytes(program);
  KEEL_RETURN_IF_ERROR(write_file_atomically(path, bytes));
  return to_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()) + bytes.size() - 32, 32));
}

Result<LoadedProgram> load_program(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string bytes, read_file(path, kMaxProgramBytes));
  return parse_program(bytes, path);
}

Result<LoadedProgram> parse_program(std::string_view bytes, std::string_view path) {
  auto bad = [&](StatusCode code, const std::string& why) {
    return Status(code, fmt::format("{}: {}", path, why));
  };
  if (bytes.size() < kMagic.size() + 8 + 32 || bytes.compare(0, kMagic.size(), kMagic) != 0)
    return bad(StatusCode::invalid_argument, "not a Keel prepared program (keel edge prepare writes one)");
  const size_t body = bytes.size() - 32;
  const Sha256Digest digest = sha256(bytes.substr(0, body));
  if (std::memcmp(digest.data(), bytes.data() + body, 32) != 0)
    return bad(StatusCode::data_loss, "its content hash does not match (truncated or altered)");
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i)
    length |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[kMagic.size() + i])) << (8 * i);
  const size_t header_at = kMagic.size() + 8;
  if (length > kMaxHeaderBytes || length > body - header_at)
    return bad(StatusCode::invalid_argument, "its header length is out of range");
  auto header = parse_json(bytes.substr(header_at, length));
  if (!header.ok() || !header->is_object() || header->value("keel_program", Json()) != Json(1))
    return bad(StatusCode::invalid_argument, "its header is not a keel_program 1 header");
  const std::string_view model = bytes.substr(header_at + length, body - header_at - length);
  LoadedProgram out;
  out.program_sha256 = to_hex(digest);
  out.header = std::move(*header);
  if (sha256_hex(model) != out.header.value("model_sha256", std::string()))
    return bad(StatusCode::data_loss, "its model does not hash to the header's model_sha256");
  try {
    out.input_shape = out.header.at("input_shape").get<std::vector<int64_t>>();
  } catch (const std::exception&) {
    return bad(StatusCode::invalid_argument, "its header has no input_shape");
  }
  KEEL_ASSIGN_OR_RETURN(OnnxGraph graph, parse_onnx(model));
  KEEL_ASSIGN_OR_RETURN(GraphRuntime runtime, GraphRuntime::prepare(std::move(graph)));
  out.runtime.emplace(std::move(runtime));
  return out;
}

}  // namespace keel::edge
