// The engine's self-test of a model file, recorded as the compatibility record that `keel plan`
// (check K009) reads: the file loads, its tokenizer round-trips, a forward pass gives finite
// numbers (greedy tokens for generative models, a unit-length vector for embedding models).
//
// Contract: check_model() always returns a record when the file can be hashed: a model that
// fails to load or to compute gets self_test_passed = false with the reason. The record is
// written next to the model unless write_record is false.
#pragma once

#include <string>

#include "contract/model_record.h"
#include "core/result.h"

namespace keel::engine {

[[nodiscard]] Result<contract::ModelRecord> check_model(const std::string& path, bool write_record = true);

}  // namespace keel::engine
