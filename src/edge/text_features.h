// Text features a document classifier reads: `keel-hashed-bow-v1`, hashed unigrams and bigrams
// of the text's words, log-scaled and L2-normalised. The same definition is implemented in the
// training recipe (tools/train_doc_classifier.py) and the browser (web/featurizer.js); see
// docs/browser-classifier.md for the byte-level rules. A test holds all three to one oracle.
//
// Contract: hashed_bow_features() never fails; it reads the text as bytes (the caller checks
// UTF-8 where that matters) and returns exactly `dims` float32 values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace keel::edge {

inline constexpr std::string_view kHashedBowName = "keel-hashed-bow-v1";

struct HashedBowSpec {
  int64_t dims = 4096;
  int64_t max_tokens = 4096;
};

//! {"name": "keel-hashed-bow-v1", "dims": N, "max_tokens": N}; another name is unimplemented,
//! sizes outside 1..1048576 invalid_argument.
[[nodiscard]] Result<HashedBowSpec> parse_hashed_bow_spec(const Json& j);
Json to_json(const HashedBowSpec& spec);

//! FNV-1a, 32 bits.
uint32_t fnv1a32(std::string_view bytes);

std::vector<float> hashed_bow_features(std::string_view text, const HashedBowSpec& spec);

}  // namespace keel::edge
