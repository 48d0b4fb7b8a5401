#include "example_deployment_fixture.h"

#include "contract/spec_parser.h"
#include "samples/case_resolution.h"

namespace keel::agent {

Result<ModelReply> ScriptedModel::complete(const ModelRequest& request) {
  ++calls;
  if (down) return Status::unavailable("the model server is restarting");
  ModelReply r = reply;
  if (quote_request_chars > 0) r.text += request.user.substr(0, quote_request_chars);
  return r;
}

void ExampleDeploymentTest::load_example_spec() {
  auto spec = contract::load_spec(keel::testing::source_dir() + "/examples/durable-agent.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  spec_ = std::move(*spec);
}

void ExampleDeploymentTest::parse_spec(const std::string& yaml) {
  auto parsed = contract::parse_spec_text(yaml, keel::testing::source_dir() + "/examples");
  ASSERT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error()[0].to_string());
  spec_ = *parsed;
}

void ExampleDeploymentTest::make_policy() {
  auto p = Policy::from_spec(spec_);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  policy_ = std::move(*p);
}

void ExampleDeploymentTest::open_deployment() {
  auto j = open_journal(dir_.file("journal.db"));
  ASSERT_TRUE(j.ok()) << j.status().to_string();
  journal_ = std::move(*j);
  auto sor = samples::OrderSystem::open(dir_.file("orders.db"));
  ASSERT_TRUE(sor.ok()) << sor.status().to_string();
  sor_ = *sor;
  auto mem = MemoryStore::open(dir_.file("memory.db"));
  ASSERT_TRUE(mem.ok()) << mem.status().to_string();
  memory_ = *mem;
  for (auto& t : sor_->tools()) ASSERT_TRUE(tools_.add(t).ok());
  for (auto& t : memory_->tools()) ASSERT_TRUE(tools_.add(t).ok());
  workflows_.add(samples::case_resolution_workflow());
}

CaseRunner ExampleDeploymentTest::runner(RunnerOptions options) {
  if (options.worker_id.empty()) options.worker_id = "test-worker";
  return CaseRunner(*journal_, tools_, policy_, workflows_, &model_, options);
}

samples::OrderSystem::LedgerCounts ExampleDeploymentTest::ledger(const std::string& case_id) {
  auto c = sor_->ledger_for_case(case_id);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? *c : samples::OrderSystem::LedgerCounts{};
}

int64_t ExampleDeploymentTest::records(const std::string& case_id, std::string_view kind) {
  auto all = journal_->read(case_id);
  EXPECT_TRUE(all.ok()) << all.status().to_string();
  int64_t n = 0;
  if (all.ok()) {
    for (const auto& r : *all) n += r.kind == kind;
  }
  return n;
}

}  // namespace keel::agent
