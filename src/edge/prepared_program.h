// A prepared program (`keel edge prepare`): an ONNX model checked, folded, partitioned between
// a device's delegates and memory-planned ahead of time, in one content-hashed file that is
// verified before anything in it is used (as ExecuTorch verifies a program).
//
// File: "KPROG1\n", the header's length (8 bytes, little-endian), the header (JSON: device,
// input shape, model SHA-256, partitions, coverage, memory plan), the model's bytes, and the
// SHA-256 of everything before it (32 bytes). The program's id is that hash.
//
// Contract:
// - prepare_program() refuses a model the runtime cannot run (the node named) and one whose
//   shapes cannot be fixed (a symbolic dimension other than the batch, set to 1); it never
//   applies the spec's bounds (check_bounds() does, so a refusal can show the plan).
// - check_bounds(): failed_precondition, with the numbers, when the accelerator coverage (of
//   MACs) is below min_coverage or the partitions exceed max_partitions.
// - load_program() refuses a truncated file, a hash mismatch (data_loss), a header that does not
//   parse or a model whose SHA-256 differs from the header's; it returns the runtime prepared
//   from exactly the verified bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "edge/device_profile.h"
#include "edge/graph_runtime.h"
#include "edge/memory_plan.h"
#include "edge/partitioner.h"

namespace keel::edge {

struct PrepareOptions {
  std::vector<int64_t> input_shape;  //!< empty: the model's own, symbols set to 1
};

struct ProgramBounds {
  double min_coverage = 0;     //!< share of MACs on an accelerator delegate
  int64_t max_partitions = 0;  //!< 0: no bound
};

struct PreparedProgram {
  std::string model_bytes;
  std::string model_sha256;
  std::string device;        //!< the profile's name
  std::string device_class;
  std::vector<int64_t> input_shape;
  PartitionPlan partitions;
  MemoryPlan memory;
  int folded_batch_norms = 0;

  Json header() const;
};

[[nodiscard]] Result<PreparedProgram> prepare_program(std::string model_bytes,
                                                      const DeviceProfile& device,
                                                      const PrepareOptions& options);
[[nodiscard]] Status check_bounds(const PreparedProgram& program, const ProgramBounds& bounds);

//! Bounded fallback: `model` prepared for `device` if it is within `bounds`; otherwise, when a
//! fallback model is given, that model prepared for the device's portable CPU kernels (same
//! device name and class), with the refusal kept; otherwise failed_precondition.
struct BoundedPreparation {
  PreparedProgram program;
  std::optional<PreparedProgram> refused;  //!< the main model's plan when it was out of bounds
  std::string refusal;                     //!< why it was
};
[[nodiscard]] Result<BoundedPreparation> prepare_within_bounds(
    std::string model_bytes, std::optional<std::string> fallback_bytes, const DeviceProfile& device,
    const PrepareOptions& options, const ProgramBounds& bounds);

//! The program's file bytes (magic, header, model, SHA-256 trailer).
std::string program_bytes(const PreparedProgram& program);
//! Writes the program atomically; returns its id (the file's SHA-256 trailer, hex).
[[nodiscard]] Result<std::string> write_program(const std::string& path,
                                                const PreparedProgram& program);

struct LoadedProgram {
  std::string program_sha256;
  Json header;
  std::vector<int64_t> input_shape;
  std::optional<GraphRuntime> runtime;
};

[[nodiscard]] Result<LoadedProgram> load_program(const std::string& path);
//! The same from bytes in memory; `name` is used in errors.
[[nodiscard]] Result<LoadedProgram> parse_program(std::string_view bytes, std::string_view name);

}  // namespace keel::edge
