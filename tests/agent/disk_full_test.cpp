// The agent's journal on a full disk: the journal lives on a small tmpfs, and the disk fills at
// the worst moment — right after the refund took effect in the order system and before its
// outcome is journaled (a real ENOSPC; the refund tool is the real one, wrapped only to fill
// the disk after its call). The run fails with resource_exhausted naming the journal, the
// case is not marked failed, and once space is freed a resume finishes the case with every
// effect exactly once (the order system here does not deduplicate: the outcome check does).
#include <gtest/gtest.h>

#include "samples/case_resolution.h"
#include "agent/case_runner.h"
#include "agent/memory_store.h"
#include "samples/order_system.h"
#include "contract/spec_parser.h"
#include "core/json.h"
#include "core/sqlite_db.h"
#include "support/small_filesystem.h"
#include "support/test_support.h"

namespace keel::agent {
namespace {

class ScriptedModel : public ModelClient {
 public:
  std::string describe() const override { return "scripted"; }
  Result<ModelReply> complete(const ModelRequest&) override {
    return ModelReply{"We are sorry.", "scripted", 10, 4, 0.01};
  }
};

// The real tool; after its effect, the journal's disk is filled once.
class FillDiskAfterCall : public Tool {
 public:
  FillDiskAfterCall(std::shared_ptr<Tool> inner, keel::testing::SmallFilesystem& fs)
      : inner_(std::move(inner)), fs_(fs) {}
  const ToolDefinition& definition() const override { return inner_->definition(); }
  Result<nlohmann::json> call(const nlohmann::json& args, const ToolCallContext& ctx) override {
    auto r = inner_->call(args, ctx);
    if (armed_) {
      armed_ = false;
      filled_ = fs_.fill();
    }
    return r;
  }
  Result<std::optional<nlohmann::json>> check_outcome(const ToolCallContext& ctx) override {
    return inner_->check_outcome(ctx);
  }
  int64_t filled() const { return filled_; }

 private:
  std::shared_ptr<Tool> inner_;
  keel::testing::SmallFilesystem& fs_;
  bool armed_ = true;
  int64_t filled_ = 0;
};

TEST(JournalDiskFull, ACaseOnAFullDiskPausesAndResumesExactlyOnce) {
  keel::testing::SmallFilesystem fs(4 << 20);
  KEEL_REQUIRE_SMALL_FILESYSTEM(fs);
  keel::testing::TempDir dir;
  auto spec = contract::load_spec(keel::testing::source_dir() + "/examples/durable-agent.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().to_string();
  const std::string journal_path = fs.file("journal.db");
  auto journal = open_journal(journal_path);
  ASSERT_TRUE(journal.ok()) << journal.status().to_string();
  auto sor = samples::OrderSystem::open(dir.file("orders.db"));
  ASSERT_TRUE(sor.ok());
  ASSERT_TRUE((*sor)->set_config("dedupe_by_idempotency_key", 0).ok());
  auto memory = MemoryStore::open(dir.file("memory.db"));
  ASSERT_TRUE(memory.ok());
  ToolRegistry tools;
  std::shared_ptr<FillDiskAfterCall> refund;
  for (auto& t : (*sor)->tools()) {
    if (t->definition().name == "issue_refund") {
      refund = std::make_shared<FillDiskAfterCall>(t, fs);
      ASSERT_TRUE(tools.add(refund).ok());
    } else {
      ASSERT_TRUE(tools.add(t).ok());
    }
  }
  for (auto& t : (*memory)->tools()) ASSERT_TRUE(tools.add(t).ok());
  auto policy = Policy::from_spec(*spec);
  ASSERT_TRUE(policy.ok());
  WorkflowRegistry workflows;
  workflows.add(samples::case_resolution_workflow());
  ScriptedModel model;
  CaseRunner runner(**journal, tools, *policy, workflows, &model, {.worker_id = "w"});

  // CASE-1 refunds 45 (no approval needed); the disk fills right after the refund.
  auto full = runner.start("CASE-1", "case-resolution", {{"case_id", "CASE-1"}}, "agent");
  ASSERT_FALSE(full.ok()) << "the case ran on a full disk: " << full->message;
  EXPECT_GT(refund->filled(), 0);
  EXPECT_EQ(full.status().code(), StatusCode::resource_exhausted) << full.status().to_string();
  EXPECT_NE(full.status().message().find(journal_path), std::string::npos)
      << full.status().message();
  EXPECT_EQ((*sor)->ledger_for_case("CASE-1")->refunds, 1)
      << "the effect happened before the disk filled";
  auto info = (*journal)->get_case("CASE-1");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, CaseState::running) << "a full disk does not fail the case";

  // Still full: a resume fails the same way and does nothing.
  auto still = runner.resume("CASE-1");
  ASSERT_FALSE(still.ok());
  EXPECT_EQ(still.status().code(), StatusCode::resource_exhausted);
  EXPECT_EQ((*sor)->ledger_for_case("CASE-1")->refunds, 1);

  // The journal file is consistent.
  {
    SqliteOptions check;
    check.read_only = true;
    check.integrity_check = true;
    auto db = Database::open(journal_path, check);
    EXPECT_TRUE(db.ok()) << db.status().to_string();
  }

  // Space is freed: the resume finishes the case; the refund's unknown outcome is found by
  // the outcome check, so the non-deduplicating order system still refunds once.
  fs.free_space();
  auto done = runner.resume("CASE-1");
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, CaseState::completed) << done->message;
  auto ledger = (*sor)->ledger_for_case("CASE-1");
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ(ledger->refunds, 1);
  EXPECT_EQ(ledger->status_changes, 2);
  EXPECT_EQ(ledger->notes, 1);
  auto records = (*journal)->read("CASE-1");
  ASSERT_TRUE(records.ok());
  int64_t checks = 0;
  for (const auto& r : *records)
    checks += r.kind == record::outcome_check && r.data.value("tool", "") == "issue_refund";
  EXPECT_EQ(checks, 1) << "the refund's outcome was looked up, not retried blind";
}

}  // namespace
}  // namespace keel::agent
