// Who writes an answer's text: the figures check, the router's data-class rule, and the answer
// service with a composer on a real PostgreSQL (a fake composer stands in for the model where the
// test needs a chosen text; the bundled model runs in the last test).
#include "rag/answer_composer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>

#include "core/hash.h"
#include "rag/answer_service.h"
#include "rag/audit_log.h"
#include "rag/model_router.h"
#include "samples/warehouse.h"
#include "support/test_support.h"

namespace keel::rag {
namespace {

using contract::DataClass;

TEST(Figures, EveryFigureOfTheTextMustBeInTheEvidence) {
  const std::string evidence = "revenue (EUR): region east: 92425.90\n  region west: 91421.06, 30 days";
  EXPECT_TRUE(unsupported_figures("East made 92,425.90 EUR and west 91421.06.", evidence).empty());
  EXPECT_TRUE(unsupported_figures("Returns within 30 days.", evidence).empty());
  EXPECT_TRUE(unsupported_figures("No figure at all.", evidence).empty());
  EXPECT_EQ(unsupported_figures("East made 92425.91 EUR.", evidence), std::vector<std::string>{"92425.91"});
  EXPECT_EQ(unsupported_figures("Within 31 days, 1,200 orders.", evidence),
            (std::vector<std::string>{"31", "1200"}));
  EXPECT_TRUE(unsupported_figures("92425.9", evidence).empty());  // the same number, its zero dropped
  EXPECT_TRUE(unsupported_figures("East made 92,425.90 EUR [1][2].", evidence).empty());  // markers are no figures
  EXPECT_EQ(unsupported_figures("[3] says 7 [x]", evidence), std::vector<std::string>{"7"});
}

TEST(Figures, AnAnswerMustStateSomethingTheEvidenceGives) {
  EXPECT_TRUE(states_any("East made 92,425.90 EUR.", {"92425.90", "91421.06"}));
  EXPECT_TRUE(states_any("The manager is Dana Whitfield.", {"Dana", "Whitfield"}));
  EXPECT_FALSE(states_any("The sources do not say.", {"92425.90", "Dana"}));
  EXPECT_FALSE(states_any("Danae is not Dana's", {"Dan"}));  // whole words only
  EXPECT_FALSE(states_any("Made 92425.91.", {"92425.90"}));
}

// Writes what the test says, and remembers what it was shown.
class ScriptedComposer final : public TextComposer {
 public:
  explicit ScriptedComposer(std::string text) : text_(std::move(text)) {}
  const std::string& model_id() const override { return id_; }
  const std::string& sha256() const override { return sha_; }
  const std::string& file() const override { return file_; }
  Result<Composition> compose(std::string_view, const std::vector<std::string>& sources) override {
    ++calls;
    for (const auto& s : sources) shown += s + "\n";
    return Composition{text_, 100, 12, 1.0};
  }
  std::atomic<int> calls{0};
  std::string shown;

 private:
  std::string text_, id_ = "scripted", sha_ = std::string(64, 'a'), file_ = "scripted.gguf";
};

struct Routed {
  std::shared_ptr<ModelRouter> router;
  ScriptedComposer* composer;
};

Routed route_to(std::string text, std::vector<DataClass> classes) {
  auto composer = std::make_unique<ScriptedComposer>(std::move(text));
  ScriptedComposer* raw = composer.get();
  std::vector<RoutedModel> models;
  models.push_back({"private-llm", std::move(classes), std::move(composer)});
  return {std::make_shared<ModelRouter>(std::move(models)), raw};
}

TEST(ModelRouter, PicksTheFirstModelApprovedForTheClassAndRefusesOtherwise) {
  std::vector<RoutedModel> models;
  models.push_back({"small", {DataClass::internal}, std::make_unique<ScriptedComposer>("a")});
  models.push_back({"big", {DataClass::internal, DataClass::confidential}, std::make_unique<ScriptedComposer>("b")});
  ModelRouter router(std::move(models));
  Route internal = router.route(DataClass::internal);
  ASSERT_NE(internal.composer, nullptr);
  EXPECT_EQ(internal.decision["detail"], "small is approved for internal data");
  Route confidential = router.route(DataClass::confidential);
  EXPECT_EQ(confidential.decision["detail"], "big is approved for confidential data");
  Route restricted = router.route(DataClass::restricted);
  EXPECT_EQ(restricted.composer, nullptr);
  EXPECT_EQ(restricted.decision["decision"], "deny");
  EXPECT_EQ(restricted.decision["detail"], "no model is approved for restricted data (small, big are not)");
  EXPECT_EQ(ModelRouter(std::vector<RoutedModel>{}).route(DataClass::public_data).composer, nullptr);
  EXPECT_EQ(ModelRouter::class_named("confidential"), DataClass::confidential);
  EXPECT_EQ(ModelRouter::class_named("top-secret"), DataClass::restricted);  // unknown: the most sensitive
}

class ComposedAnswers : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pg_.ok()) << pg_.error();
    ASSERT_TRUE(samples::create_sample_warehouse(pg_.uri()).ok());
    ASSERT_TRUE(install_audit_table(pg_.uri()).ok());
    auto catalog = CatalogSource::open(testing::source_dir() + "/examples/enterprise-rag/metrics.yaml");
    ASSERT_TRUE(catalog.ok()) << catalog.status().to_string();
    catalog_ = *catalog;
  }
  Json ask(const Routed& r, const AnswerRequest& request) {
    AnswerServiceOptions o;
    o.router = r.router;
    auto service = ConnectedAnswerService::open(catalog_, pg_.uri("keel_reader"), o);
    EXPECT_TRUE(service.ok()) << service.status().to_string();
    if (!service.ok()) return {};
    auto a = (*service)->service->answer({"analyst-acme", "acme", {"analyst"}}, request);
    EXPECT_TRUE(a.ok()) << a.status().to_string();
    return a.ok() ? *a : Json{};
  }
  static const Json* decision(const Json& a, const std::string& rule) {
    for (const auto& d : a["policy"])
      if (d["rule"] == rule) return &d;
    return nullptr;
  }
  std::string audited_evidence(const std::string& answer_id) {
    return pg_.scalar("SELECT detail FROM keel_audit WHERE answer_id = '" + answer_id + "' AND rule = 'evidence'");
  }
  testing::PostgresServer pg_;
  std::shared_ptr<CatalogSource> catalog_;
};

const Json kRevenueByRegion = {
    {"metric", "revenue"}, {"dimensions", {"region"}}, {"range", {{"from", "2026-01-01"}, {"to", "2027-01-01"}}}};

TEST_F(ComposedAnswers, TheModelsTextIsKeptWhenItsFiguresAreTheEvidences) {
  // The figure the model will state: east's revenue, read from the template's answer first.
  Json plain = ask(route_to("-", {}), {"", kRevenueByRegion});
  const Json& rows = plain["evidence"]["metrics"][0]["rows"];
  ASSERT_EQ(rows.size(), 4u);
  const std::string east = fmt::format("{:.2f}", rows[0][1].get<double>());
  Routed r = route_to("East brought in " + east + " EUR [1].", {DataClass::internal});
  Json a = ask(r, {"", kRevenueByRegion});
  EXPECT_EQ(a["text"], "East brought in " + east + " EUR [1].");
  EXPECT_EQ(a["route"]["composer"], "model");
  EXPECT_EQ(a["route"]["model"]["id"], "scripted");
  EXPECT_EQ(a["route"]["data_class"], "internal");
  EXPECT_EQ(a["cost"]["prompt_tokens"], 100);
  EXPECT_EQ(a["cost"]["completion_tokens"], 12);
  ASSERT_NE(decision(a, "composer.figures"), nullptr);
  EXPECT_EQ((*decision(a, "composer.figures"))["decision"], "accept");
  EXPECT_NE(r.composer->shown.find(east), std::string::npos);  // it was given the rows
  // The audit names the model, its hash and the tokens.
  EXPECT_NE(audited_evidence(a["answer_id"]).find("model scripted sha256 " + std::string(64, 'a') + " tokens 100+12"),
            std::string::npos);
}

TEST_F(ComposedAnswers, AFigureTheEvidenceDoesNotHoldKeepsTheTemplatesText) {
  Routed r = route_to("Revenue was 1,000,000 EUR.", {DataClass::internal});
  Json a = ask(r, {"", kRevenueByRegion});
  EXPECT_EQ(a["route"]["composer"], "metric-template");
  EXPECT_EQ(a["route"]["rejected_text"], "Revenue was 1,000,000 EUR.");
  EXPECT_NE(a["text"].get<std::string>().find("region east"), std::string::npos);
  ASSERT_NE(decision(a, "composer.figures"), nullptr);
  EXPECT_EQ((*decision(a, "composer.figures"))["decision"], "reject");
  EXPECT_EQ((*decision(a, "composer.figures"))["detail"], "the model stated 1000000, which the evidence does not");
  EXPECT_EQ(a["cost"]["completion_tokens"], 12);  // it ran: its tokens are counted

  Routed silent = route_to("The sources do not say.", {DataClass::internal});
  Json b = ask(silent, {"", kRevenueByRegion});
  EXPECT_EQ(b["route"]["composer"], "metric-template");
  EXPECT_EQ((*decision(b, "composer.figures"))["detail"], "the model stated none of the figures or names the evidence gives");
}

TEST_F(ComposedAnswers, ConfidentialEvidenceNeverReachesAModelNotApprovedForIt) {
  // The key accounts are a confidential document; the model is approved for internal data only.
  Routed r = route_to("Borealis Foods [1].", {DataClass::internal});
  Json a = ask(r, {"Who are our key accounts?", std::nullopt});
  ASSERT_EQ(a["status"], "answered") << a.dump();
  EXPECT_EQ(a["route"]["data_class"], "confidential");
  EXPECT_EQ(r.composer->calls.load(), 0);
  EXPECT_EQ(a["route"]["composer"], "extractive");
  EXPECT_TRUE(a["route"]["model"].is_null());
  ASSERT_NE(decision(a, "router.data_class"), nullptr);
  EXPECT_EQ((*decision(a, "router.data_class"))["decision"], "deny");
  EXPECT_EQ(a["cost"]["prompt_tokens"], 0);
  // An internal document's answer does reach it.
  Json b = ask(r, {"How many days do customers have to return a product?", std::nullopt});
  EXPECT_EQ(b["route"]["data_class"], "internal");
  EXPECT_EQ(r.composer->calls.load(), 1);
  EXPECT_EQ(r.composer->shown.find("Borealis"), std::string::npos);
}

TEST_F(ComposedAnswers, LimitationsAndDeclinesAreNotComposed) {
  Routed r = route_to("Anything.", {});
  Json a = ask(r, {"", Json{{"metric", "profit"}}});
  EXPECT_EQ(a["status"], "limited");
  Json b = ask(r, {"What colour is the office carpet?", std::nullopt});
  EXPECT_EQ(b["status"], "declined");
  EXPECT_EQ(r.composer->calls.load(), 0);
}

TEST(AnswerComposer, TheBundledModelWritesAndCountsItsTokens) {
  const std::string path = testing::source_dir() + "/models/keel-tiny-chat.gguf";
  ComposerOptions o;
  o.max_tokens = 16;
  o.threads = 1;
  auto c = AnswerComposer::open("private-llm", path, o);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto digest = sha256_file(path);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ((*c)->sha256(), to_hex(*digest));
  EXPECT_EQ((*c)->file(), "keel-tiny-chat.gguf");
  auto composed = (*c)->compose("How many days?", {"Customers may return a product within 30 days."});
  ASSERT_TRUE(composed.ok()) << composed.status().to_string();
  EXPECT_FALSE(composed->text.empty());
  EXPECT_GT(composed->prompt_tokens, 20);
  EXPECT_GT(composed->completion_tokens, 0);
  EXPECT_LE(composed->completion_tokens, 16);
  // Sources too long for the context are refused, not cut silently.
  ComposerOptions small = o;
  small.n_ctx = 64;
  auto tight = AnswerComposer::open("private-llm", path, small);
  ASSERT_TRUE(tight.ok());
  auto refused = (*tight)->compose("q", {std::string(2000, 'x')});
  EXPECT_EQ(refused.status().code(), StatusCode::resource_exhausted);
}

}  // namespace
}  // namespace keel::rag
