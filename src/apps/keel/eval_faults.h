// `keel eval SCENARIO --faults`: injects the scenario's faults into its real components (the
// index and store, the egress guard, the engine's memory fit, the agent's journal, order system
// and worker processes) and prints, per fault, how it was injected, what the runtime did and
// whether it recovered. Faults the spec declares that this command does not inject are listed
// with the tests that do (contract/fault_injections.h), or as not injected.
//
// Exit code: 0 every injected fault was recovered from, 2 one was not, 1 nothing could run
// (bad spec, unknown scenario). Disk-full runs need root (a tmpfs is mounted in a private
// mount namespace of a child process); without it they are reported as not run.
#pragma once

#include <string>

namespace keel::app {

//! `spec_path` empty: examples/<scenario>.yaml.
int run_fault_eval(const std::string& scenario, const std::string& spec_path, bool json);

}  // namespace keel::app
