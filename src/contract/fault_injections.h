// Which test injects each fault into each scenario's runtime: the evidence behind a plan's
// `tested by` (a fault with no row here is `not injected`, whatever `failure.inject` says).
//
// Contract:
// - Every row names a test that exists in the test sources ("<file under tests/> Suite.Name",
//   as GoogleTest names it); tests/contract/fault_injections_test.cpp parses tests/ and fails
//   when a named test is missing, so the table cannot promise a test nobody runs.
// - A row is added only when the test really makes the fault happen to the component the
//   scenario's runtime uses (a killed process, a full file system, a corrupted file, a stopped
//   database, a socket the guard refuses...), not when it merely checks configuration.
// - `keel eval SCENARIO --faults` runs the injections of its own (src/apps/keel/eval_faults.cpp);
//   this table is what the test suite covers.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "contract/spec.h"

namespace keel::contract {

struct FaultInjection {
  Fault fault;
  ScenarioId scenario;
  std::string_view test;  //!< "tests/apps/agent_test.cpp AgentCommand.AWorkerKilled..."
  std::string_view how;   //!< how the test injects it, in a few words
};

//! Every row, grouped by scenario.
std::span<const FaultInjection> fault_injections();

//! The rows for one fault in one scenario (empty: the fault is not injected there).
std::vector<const FaultInjection*> injections_for(Fault fault, ScenarioId scenario);

}  // namespace keel::contract
