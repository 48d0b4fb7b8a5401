// The examples' sample agent parts, registered by name: the workflow "case-resolution" and the
// system-of-record provider "sample-order-system" (examples/durable-agent.yaml names both).
// Demo code lives here, never inside a library; the `keel` command links it so the example runs.
#pragma once

#include "agent/catalog.h"
#include "core/status.h"

namespace keel::samples {

inline constexpr const char* kOrderSystemProvider = "sample-order-system";

//! Adds the samples to `catalog`.
[[nodiscard]] Status register_samples(agent::Catalog& catalog);

//! A catalog holding only the samples (built once).
const agent::Catalog& sample_catalog();

}  // namespace keel::samples
