// The example deployment the agent tests run cases on: the durable-agent spec, the sample order
// system and memory store as the tools, the case-resolution workflow, a journal in a temporary
// folder, a scripted model and a ManualClock. Everything but the model and the clock is real;
// every count of effects comes from the order system's own ledger.
//
// A test fixture derives from ExampleDeploymentTest and, in its SetUp, chooses the spec
// (load_example_spec() or parse_spec(), then edits spec_ if it wants), opens the deployment
// (open_deployment()) and makes the policy (make_policy()); each step asserts, so wrap it in
// ASSERT_NO_FATAL_FAILURE.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "agent/case_runner.h"
#include "agent/memory_store.h"
#include "contract/spec.h"
#include "core/clock.h"
#include "samples/order_system.h"
#include "support/test_support.h"

namespace keel::agent {

//! Answers every request with `reply` (plus, when quote_request_chars > 0, the start of the
//! request's user text), or fails as unavailable while `down`.
class ScriptedModel : public ModelClient {
 public:
  std::string describe() const override { return "scripted"; }
  Result<ModelReply> complete(const ModelRequest& request) override;

  ModelReply reply{"We are sorry.", "scripted", 10, 4, 0.01};
  size_t quote_request_chars = 0;
  int calls = 0;
  bool down = false;
};

class ExampleDeploymentTest : public ::testing::Test {
 protected:
  //! spec_ from examples/durable-agent.yaml.
  void load_example_spec();
  //! spec_ from YAML text whose relative paths resolve against examples/.
  void parse_spec(const std::string& yaml);
  //! policy_ from spec_ (again, after spec_ changed).
  void make_policy();
  //! Opens the journal, the order system and the memory store in dir_, registers their tools
  //! and the case-resolution workflow. Once per test.
  void open_deployment();

  //! A runner over the deployment; worker "test-worker" unless `options` names one.
  CaseRunner runner(RunnerOptions options = {});
  //! The order system's ledger of one case (all zero, and a failure, when it cannot be read).
  samples::OrderSystem::LedgerCounts ledger(const std::string& case_id);
  //! How many records of `kind` the journal holds for the case.
  int64_t records(const std::string& case_id, std::string_view kind);

  keel::testing::TempDir dir_;
  ManualClock clock_;
  contract::Spec spec_;
  std::unique_ptr<JournalStore> journal_;
  std::shared_ptr<samples::OrderSystem> sor_;
  std::shared_ptr<MemoryStore> memory_;
  ToolRegistry tools_;
  Policy policy_;
  WorkflowRegistry workflows_;
  ScriptedModel model_;
};

}  // namespace keel::agent
