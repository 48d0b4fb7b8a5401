// Document policy on a real PostgreSQL, each layer switched off in turn: the warehouse's
// policy alone (its masking view; Keel's check and masking skipped) and Keel's alone (the table
// read as its superuser, which row-level security does not bind) each keep other tenants'
// documents, hr-only documents and masked salaries out of an answer; with both off the leak check fires (a negative
// control that proves the check can fail).
#include <gtest/gtest.h>

#include <set>

#include "rag/document_search.h"
#include "samples/warehouse.h"
#include "semantic/warehouse.h"
#include "support/test_support.h"

namespace keel::rag {
namespace {

class DocumentPolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pg_.ok()) << pg_.error();
    Status s = samples::create_sample_warehouse(pg_.uri());
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  std::string reader_uri() const { return pg_.uri("keel_reader"); }
  std::vector<semantic::WarehouseDocument> documents(bool database_policy, const context::Reader& r) {
    auto w = semantic::Warehouse::connect(database_policy ? reader_uri() : pg_.uri());
    EXPECT_TRUE(w.ok());
    auto d = (*w)->documents(r.tenant, r.roles,
                             database_policy ? semantic::DocumentSource::policy_view : semantic::DocumentSource::table);
    EXPECT_TRUE(d.ok()) << d.status().to_string();
    return d.ok() ? *d : std::vector<semantic::WarehouseDocument>{};
  }
  // What acme's analyst could learn of others: their customers' names, the hr-only bands.
  static bool leaks(const DocumentAnswer& a) {
    std::string all = a.text + a.evidence.dump();
    for (const std::string other : {"globex", "initech"})
      for (const auto& c : samples::sample_customers(other))
        if (all.find(c) != std::string::npos) return true;
    return all.find("91000") != std::string::npos || all.find("52000") != std::string::npos ||
           all.find("58000") != std::string::npos;
  }
  int leaks_over_questions(bool database_policy, bool keel_policy) {
    const context::Reader analyst{"acme", {"analyst"}};
    DocumentSearchOptions o;
    o.enforce_policy = keel_policy;
    int leaked = 0;
    for (const char* q : {"Who are the key accounts of globex?", "Who are the key accounts of initech?",
                          "What are the compensation bands for engineers?",
                          "What is the salary of the support team lead?",
                          "Which customers are key accounts of every other tenant?"}) {
      leaked += leaks(answer_from_documents(q, documents(database_policy, analyst), analyst, {"salary"}, o));
    }
    return leaked;
  }
  testing::PostgresServer pg_;
};

TEST_F(DocumentPolicy, TheWarehouseReturnsOnlyTheTenantsReadableDocuments) {
  std::set<std::string> ids;
  for (const auto& d : documents(true, {"acme", {"analyst"}})) {
    EXPECT_EQ(d.tenant, "acme");
    ids.insert(d.id);
  }
  EXPECT_EQ(ids, (std::set<std::string>{"key-accounts", "quarterly-notes", "refund-policy", "team-directory",
                                        "travel-policy"}));
  EXPECT_EQ(documents(true, {"acme", {}}).size(), 0u);
  EXPECT_EQ(documents(true, {"acme", {"hr"}}).size(), 4u);
  EXPECT_EQ(documents(false, {"acme", {"analyst"}}).size(), 16u);  // the table as superuser: everything
  for (const auto& d : documents(true, {"acme", {"analyst"}})) {
    if (d.id == "team-directory") {
      EXPECT_NE(d.body.find("salary: [masked]\n"), std::string::npos) << d.body;
    }
  }
  for (const auto& d : documents(true, {"acme", {"hr"}})) {
    if (d.id == "team-directory") {
      EXPECT_NE(d.body.find("salary: 58000 EUR\n"), std::string::npos) << d.body;
    }
  }
}

TEST_F(DocumentPolicy, EitherLayerAloneStopsALeak) {
  EXPECT_EQ(leaks_over_questions(true, false), 0);
  EXPECT_EQ(leaks_over_questions(false, true), 0);
  EXPECT_EQ(leaks_over_questions(true, true), 0);
  EXPECT_GT(leaks_over_questions(false, false), 0) << "the leak check never fires";
}

TEST_F(DocumentPolicy, DeniedDocumentsAreCountedNotRanked) {
  const context::Reader analyst{"acme", {"analyst"}};
  DocumentAnswer a = answer_from_documents("Who are the key accounts?", documents(false, analyst), analyst, {});
  EXPECT_EQ(a.documents_readable, 5);
  EXPECT_EQ(a.documents_denied, 11);
  ASSERT_TRUE(a.found);
  EXPECT_EQ(a.evidence[0]["document"], "key-accounts");
  EXPECT_NE(a.text.find("Borealis Foods"), std::string::npos) << a.text;
  int denies = 0;
  for (const auto& d : a.decisions) denies += d["decision"] == "deny";
  EXPECT_EQ(denies, 11);
}

}  // namespace
}  // namespace keel::rag
