// A deployment is built from what the spec names and the program registered: the workflow and
// the provider of its system of record come from a catalog; nothing is guessed, and no schema is
// written into a database the provider did not create.
#include "agent/agent_deployment.h"

#include <gtest/gtest.h>

#include "agent/catalog.h"
#include "contract/spec_parser.h"
#include "core/sqlite_db.h"
#include "samples/order_system.h"
#include "samples/samples.h"
#include "support/test_support.h"

namespace keel::agent {
namespace {

// The example spec with `old` replaced by `replacement` (the test fails when `old` is absent).
contract::Spec example_with(const std::string& old, const std::string& replacement) {
  std::string yaml = keel::testing::read_file(keel::testing::source_dir() + "/examples/durable-agent.yaml");
  size_t at = yaml.find(old);
  EXPECT_NE(at, std::string::npos) << old;
  if (at != std::string::npos) yaml.replace(at, old.size(), replacement);
  auto parsed = contract::parse_spec_text(yaml, keel::testing::source_dir() + "/examples");
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error()[0].to_string());
  if (!parsed.ok()) return contract::Spec{};
  return std::move(*parsed);
}

const std::string kOrderComponent =
    "{id: order-system, kind: sqlite, path: durable-agent/orders.db, provider: sample-order-system}";

class AgentDeploymentTest : public ::testing::Test {
 protected:
  AgentDeploymentOptions options() {
    AgentDeploymentOptions o;
    o.state_dir = dir_.path();
    o.catalog = &samples::sample_catalog();
    return o;
  }
  keel::testing::TempDir dir_;
};

TEST_F(AgentDeploymentTest, TheExampleRunsTheWorkflowAndProviderItNames) {
  auto d = AgentDeployment::open(example_with("", ""), options());
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ((*d)->default_workflow(), "case-resolution");
  ASSERT_NE(dynamic_cast<samples::OrderSystem*>((*d)->system_of_record()), nullptr);
  EXPECT_TRUE((*d)->workflows().latest("case-resolution").ok());
  EXPECT_TRUE((*d)->tools().find("issue_refund"));
}

TEST_F(AgentDeploymentTest, NothingIsGuessedWithoutACatalogEntry) {
  // A SQLite system of record with no provider: Keel does not know its schema.
  auto no_provider = AgentDeployment::open(
      example_with(kOrderComponent, "{id: order-system, kind: sqlite, path: durable-agent/orders.db}"), options());
  EXPECT_EQ(no_provider.status().code(), StatusCode::failed_precondition);
  EXPECT_NE(no_provider.status().message().find("names no provider"), std::string::npos) << no_provider.status().message();
  // A provider nobody registered: the error lists the ones there are.
  auto unknown = AgentDeployment::open(
      example_with("provider: sample-order-system", "provider: erp-connector"), options());
  EXPECT_EQ(unknown.status().code(), StatusCode::not_found);
  EXPECT_NE(unknown.status().message().find("sample-order-system"), std::string::npos) << unknown.status().message();
  // A workflow nobody registered.
  auto workflow = AgentDeployment::open(example_with("workflow: case-resolution", "workflow: claims-triage"), options());
  EXPECT_EQ(workflow.status().code(), StatusCode::failed_precondition);
  EXPECT_NE(workflow.status().message().find("claims-triage"), std::string::npos) << workflow.status().message();
  // Without a catalog there are no providers at all.
  AgentDeploymentOptions bare = options();
  bare.catalog = nullptr;
  EXPECT_EQ(AgentDeployment::open(example_with("", ""), bare).status().code(), StatusCode::failed_precondition);
  // No workflow named: the deployment opens, and says it has none to start cases with.
  auto none = AgentDeployment::open(example_with("workflow: case-resolution", ""), options());
  ASSERT_TRUE(none.ok()) << none.status().to_string();
  EXPECT_EQ((*none)->default_workflow(), "");
}

TEST(Catalog, NamesAreUnique) {
  Catalog c;
  ASSERT_TRUE(samples::register_samples(c).ok());
  EXPECT_EQ(samples::register_samples(c).code(), StatusCode::already_exists);
  EXPECT_TRUE(c.has_workflow("case-resolution"));
  EXPECT_EQ(c.workflow_names(), "case-resolution");
  EXPECT_TRUE(c.provider("sample-order-system").ok());
  EXPECT_EQ(c.provider("nope").status().code(), StatusCode::not_found);
}

// The sample seeds only a database it creates: a user's own SQLite file is refused untouched.
TEST(SampleOrderSystem, NeverWritesIntoADatabaseItDidNotCreate) {
  keel::testing::TempDir dir;
  const std::string theirs = dir.file("crm.db");
  {
    SqliteOptions rollback_journal;  // as most applications leave their files
    rollback_journal.wal = false;
    auto db = Database::open(theirs, rollback_journal);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->exec("CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT); "
                            "INSERT INTO contacts (name) VALUES ('Ada')")
                    .ok());
  }
  const std::string before = keel::testing::read_file(theirs);
  auto refused = samples::OrderSystem::open(theirs);
  EXPECT_EQ(refused.status().code(), StatusCode::failed_precondition);
  EXPECT_NE(refused.status().message().find("not the sample order system's database"), std::string::npos);
  EXPECT_EQ(keel::testing::read_file(theirs), before);

  // A new file is created and seeded, marked as the sample's, and opened again as such.
  auto fresh = samples::OrderSystem::open(dir.file("orders.db"));
  ASSERT_TRUE(fresh.ok()) << fresh.status().to_string();
  EXPECT_EQ((*fresh)->tools().size(), 6u);
  fresh->reset();
  auto again = samples::OrderSystem::open(dir.file("orders.db"));
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  auto ledger = (*again)->ledger_for_case("CASE-1");
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ(ledger->refunds, 0);
}

}  // namespace
}  // namespace keel::agent
