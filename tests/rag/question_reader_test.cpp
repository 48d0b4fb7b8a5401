// Questions read into typed metric requests: only the catalog's names, ranges as dates, and
// nothing for a question no metric answers.
#include "rag/question_reader.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace keel::rag {
namespace {

class QuestionReader : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = semantic::load_metric_catalog(testing::source_dir() + "/examples/enterprise-rag/metrics.yaml");
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    catalog_ = std::move(*c);
  }
  Json read(const std::string& q) { return read_metric_request(catalog_, q).value_or(Json()); }
  semantic::MetricCatalog catalog_;
};

TEST_F(QuestionReader, ReadsMetricDimensionsGrainAndRange) {
  EXPECT_EQ(read("What was the revenue in Q1 2026?"),
            Json::parse(R"({"metric": "revenue", "range": {"from": "2026-01-01", "to": "2026-04-01"}})"));
  EXPECT_EQ(read("Monthly revenue by region for 2026"),
            Json::parse(R"({"metric": "revenue", "grain": "month", "dimensions": ["region"],
                            "range": {"from": "2026-01-01", "to": "2027-01-01"}})"));
  EXPECT_EQ(read("How many orders per product in December 2026?"),
            Json::parse(R"({"metric": "order_count", "dimensions": ["product"],
                            "range": {"from": "2026-12-01", "to": "2027-01-01"}})"));
  EXPECT_EQ(read("open tickets per week"), Json::parse(R"({"metric": "open_tickets", "grain": "week"})"));
  EXPECT_EQ(read("revenue from 2026-02-01 to 2026-03-15"),
            Json::parse(R"({"metric": "revenue", "range": {"from": "2026-02-01", "to": "2026-03-15"}})"));
  EXPECT_EQ(read("average salary by department"),
            Json::parse(R"({"metric": "average_salary", "dimensions": ["department"]})"));
}

TEST_F(QuestionReader, ReadsFilterValuesAsValues) {
  EXPECT_EQ(read("revenue in the north region")["filters"],
            Json::parse(R"([{"dimension": "region", "op": "eq", "value": "north"}])"));
  EXPECT_EQ(read("revenue from Fjord Shipping in 2026")["filters"],
            Json::parse(R"([{"dimension": "customer", "op": "eq", "value": "Fjord Shipping"}])"));
  Json injected = read("revenue for region x'; DROP TABLE orders; --");
  EXPECT_EQ(injected["filters"][0]["value"], "x");
}

TEST_F(QuestionReader, NoMetricNoRequest) {
  EXPECT_FALSE(read_metric_request(catalog_, "What is our refund policy?"));
  EXPECT_FALSE(read_metric_request(catalog_, "What is the salary of the support team lead?"));
  EXPECT_FALSE(read_metric_request(catalog_, "count the customers"));
  EXPECT_FALSE(read_metric_request(catalog_, ""));
  EXPECT_TRUE(asks_for_a_number("How many days may a customer return a product?"));
  EXPECT_TRUE(asks_for_a_number("What is the total profit margin?"));
  EXPECT_FALSE(asks_for_a_number("Who is the account manager of Borealis Foods?"));
}

}  // namespace
}  // namespace keel::rag
