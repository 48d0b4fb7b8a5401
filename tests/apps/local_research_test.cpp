// The local-research scenario end to end with the project's own tiny models: index the bundled
// corpus, ask with verified citations, prove with strace that no Internet socket is opened, run
// the spec, and evaluate.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "core/hash.h"
#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

std::string repo(const std::string& rel) { return testing::source_dir() + "/" + rel; }
const std::string kDocs = "examples/local-research/docs";
const std::string kChat = "models/keel-tiny-chat.gguf";
const std::string kEmbed = "models/keel-tiny-embed.gguf";

Json json_of(const testing::CommandResult& r) {
  auto j = parse_json(r.out);
  EXPECT_TRUE(j.ok()) << r.out.substr(0, 500) << r.err;
  return j.ok() ? *j : Json();
}

class LocalResearch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    auto r = testing::run_keel({"index", "--docs", repo(kDocs), "--store", store(), "--embed-model", repo(kEmbed), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    index_report_ = new Json(json_of(r));
  }
  static void TearDownTestSuite() {
    delete index_report_;
    delete dir_;
  }
  static std::string store() { return dir_->file("store.db"); }
  static testing::TempDir* dir_;
  static Json* index_report_;
};
testing::TempDir* LocalResearch::dir_ = nullptr;
Json* LocalResearch::index_report_ = nullptr;

TEST_F(LocalResearch, IndexesTheCorpusIncrementally) {
  const Json& j = *index_report_;
  EXPECT_EQ(j["indexed"], 24);
  EXPECT_TRUE(j["skipped"].empty());
  EXPECT_TRUE(j["failed"].empty());
  EXPECT_GT(j["chunks"].get<int>(), 24);
  EXPECT_GT(j["embed_chunks_per_s"].get<double>(), 0);
  auto again = testing::run_keel({"index", "--docs", repo(kDocs), "--store", store(), "--embed-model", repo(kEmbed), "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json_of(again)["indexed"], 0);
  EXPECT_EQ(json_of(again)["unchanged"], 24);
  auto status = testing::run_keel({"index", "status", "--store", store(), "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  Json s = json_of(status);
  EXPECT_EQ(s["fresh"].size(), 24u);
  EXPECT_TRUE(s["stale"].empty() && s["missing"].empty() && s["new"].empty());
}

TEST_F(LocalResearch, AnswersWithCitationsThatAreTheDocumentsOwnBytes) {
  std::string question = testing::read_file(repo("examples/local-research/sample_question.txt"));
  while (!question.empty() && question.back() == '\n') question.pop_back();
  auto r = testing::run_keel({"ask", "--store", store(), "--model", repo(kChat), "--embed-model", repo(kEmbed), "--json", question});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = json_of(r);
  for (const char* key : {"answer", "citations", "retrieved", "metrics"}) EXPECT_TRUE(j.contains(key)) << key;
  for (const char* key : {"load_ms", "ttft_ms", "tpot_ms", "rss_peak_bytes", "citation_validity", "stale_docs"}) {
    EXPECT_TRUE(j["metrics"].contains(key)) << key;
  }
  EXPECT_EQ(j["metrics"]["stale_docs"], 0);
  // The bundled chat model is below the quality floor its record states: the answer is quoted.
  EXPECT_TRUE(j["extracted"].get<bool>()) << j["answer"];
  EXPECT_TRUE(j["metrics"]["ttft_ms"].is_null());  // nothing was generated: no latency to report
  EXPECT_NE(j["answer_mode"].get<std::string>().find("below the 50% floor"), std::string::npos) << j["answer_mode"];
  EXPECT_NE(j["answer"].get<std::string>().find("valid only when"), std::string::npos) << j["answer"];
  ASSERT_FALSE(j["retrieved"].empty());
  for (const auto& r2 : j["retrieved"]) {
    EXPECT_TRUE(r2.contains("doc") && r2.contains("rank") && r2.contains("scores"));
  }
  EXPECT_EQ(j["retrieved"][0]["doc"], "context/citations.md");
  // Every citation quotes the document's own bytes at its range, with the hash that says so.
  for (const auto& c : j["citations"]) {
    for (const char* key : {"doc", "start", "end", "page", "sha256", "quote"}) EXPECT_TRUE(c.contains(key)) << key;
    std::string doc = testing::read_file(repo(kDocs + "/" + c["doc"].get<std::string>()));
    size_t start = c["start"].get<size_t>(), end = c["end"].get<size_t>();
    if (c["doc"].get<std::string>().ends_with(".md") || c["doc"].get<std::string>().ends_with(".txt")) {
      EXPECT_EQ(doc.substr(start, end - start), c["quote"].get<std::string>());
    }
    EXPECT_EQ(sha256_hex(c["quote"].get<std::string>()), c["sha256"].get<std::string>());
  }
  if (!j["declined"].get<bool>()) {
    EXPECT_FALSE(j["citations"].empty()) << "an answer is only shown with a valid citation";
    EXPECT_DOUBLE_EQ(j["metrics"]["citation_validity"].get<double>(), 1.0);
  }
}

TEST_F(LocalResearch, DeclinesWhatTheDocumentsDoNotCover) {
  auto r = testing::run_keel({"ask", "--store", store(), "--model", repo(kChat), "--embed-model", repo(kEmbed), "--json",
                              "Which GPU does the vendor recommend for training Keel models on Kubernetes?"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = json_of(r);
  EXPECT_TRUE(j["declined"].get<bool>()) << j["answer"];
  EXPECT_TRUE(j["citations"].empty());
}

TEST_F(LocalResearch, StraceSeesNoInternetSocket) {
  if (!testing::have_program("strace")) GTEST_FAIL() << "strace is missing: tools/setup.sh installs it";
  std::string trace = dir_->file("strace.txt");
  auto r = testing::run_command({"strace", "-f", "-e", "trace=network", "-o", trace, testing::keel_binary(), "ask",
                                 "--store", store(), "--model", repo(kChat), "--embed-model", repo(kEmbed), "--json",
                                 "How are citations validated?"});
  if (r.exit_code != 0 && r.err.find("PTRACE") != std::string::npos) {
    KEEL_SKIP_OUTSIDE_CI("ptrace is not permitted in this sandbox: " + r.err);
  }
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string text = testing::read_file(trace);
  // Any socket() of any family must have failed; none may have returned a descriptor, and no
  // connect or send may have gone through.
  std::regex any_socket(R"(socket(pair)?\([^)]*\)\s*=\s*\d+)");
  EXPECT_FALSE(std::regex_search(text, any_socket)) << text.substr(0, 2000);
  std::regex sent(R"((connect|sendto|sendmsg|sendmmsg)\([^\n]*\)\s*=\s*\d+)");
  EXPECT_FALSE(std::regex_search(text, sent)) << text.substr(0, 2000);
}

// Every command that reads private documents or a model under egress: none installs the seccomp
// guard before its first read of them (strace shows the order of the syscalls).
TEST_F(LocalResearch, EveryCommandGuardsBeforeItReadsPrivateData) {
  if (!testing::have_program("strace")) GTEST_FAIL() << "strace is missing: tools/setup.sh installs it";
  const std::string embed = repo(kEmbed), chat = repo(kChat), docs = repo(kDocs);
  const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
      {embed, {"embed", "--model", embed, "a private sentence"}},
      {docs, {"index", "--docs", docs, "--store", dir_->file("guard-store.db"), "--quiet"}},
      {chat, {"ask", "--store", store(), "--model", chat, "--embed-model", embed, "How are citations validated?"}},
      {chat, {"run", repo("examples/local-research.yaml"), "--store", dir_->file("guard-run.db"), "--question", "What is a chunk?"}},
  };
  for (const auto& [private_path, args] : commands) {
    const std::string trace = dir_->file("guard-" + args[0] + ".txt");
    std::vector<std::string> argv = {"strace", "-f", "-e", "trace=seccomp,prctl,openat,open", "-o", trace, testing::keel_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = testing::run_command(argv);
    if (r.exit_code != 0 && r.err.find("PTRACE") != std::string::npos) {
      KEEL_SKIP_OUTSIDE_CI("ptrace is not permitted in this sandbox: " + r.err);
    }
    ASSERT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
    const std::string text = testing::read_file(trace);
    size_t guard = text.find("SECCOMP_SET_MODE_FILTER");
    if (guard == std::string::npos) guard = text.find("PR_SET_SECCOMP");
    const size_t first_read = text.find("\"" + private_path);
    ASSERT_NE(guard, std::string::npos) << args[0] << " installed no seccomp filter";
    ASSERT_NE(first_read, std::string::npos) << args[0] << " never opened " << private_path;
    EXPECT_LT(guard, first_read) << args[0] << " read " << private_path << " before installing the guard";
  }
}

TEST_F(LocalResearch, RunFollowsTheSpec) {
  std::string question = "What does the GGUF alignment default to?";
  auto r = testing::run_keel({"run", repo("examples/local-research.yaml"), "--question", question, "--store",
                              dir_->file("run-store.db"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = json_of(r);
  EXPECT_TRUE(j["egress_guarded"].get<bool>());
  EXPECT_EQ(j["model"]["id"], "main");
  EXPECT_NE(r.err.find("Internet sockets are refused"), std::string::npos);
  // Outbound bytes come from the kernel: the run's own network namespace sent nothing.
  if (j["outbound"]["bytes"].is_null()) KEEL_SKIP_OUTSIDE_CI("no private network namespace: " + j["outbound"]["measured_by"].dump());
  EXPECT_EQ(j["outbound"]["bytes"], 0);
  EXPECT_NE(j["outbound"]["measured_by"].get<std::string>().find("private network namespace"), std::string::npos);
  // The run's metrics, as the plan names them, in a local file.
  std::string metrics = testing::read_file(j["metrics_file"].get<std::string>());
  for (const char* name : {"keel_outbound_bytes_total 0", "keel_index_documents 24", "keel_citation_validity_ratio 1",
                           "keel_answers_total{outcome=\"answered\",mode=\"extract\"} 1"}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name << "\n" << metrics;
  }
  // A refused spec runs nothing.
  auto refused = testing::run_keel({"run", repo("examples/mistakes/K008-remote-fallback-without-egress.yaml"), "--question", "x"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("K008"), std::string::npos);
}

TEST_F(LocalResearch, EvaluationAnswersDeclinesAndCitesAgainstGoldSpans) {
  auto r = testing::run_keel({"eval", "local-research", "--spec", repo("examples/local-research.yaml"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = json_of(r);
  EXPECT_EQ(j["questions"].get<int>(), j["answerable"].get<int>() + j["unanswerable"].get<int>());
  EXPECT_GT(j["unanswerable"].get<int>(), 5);
  // The default answers (quoted, as the tiny generator is below the floor): the bar of the
  // trust issue, judged against the gold spans of questions.json.
  EXPECT_EQ(j["answer_mode"], "extract");
  EXPECT_GE(j["answered_correctly"].get<double>(), 0.8);
  EXPECT_GE(j["unanswerable_declined"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(j["citation_grounded"].get<double>(), 1.0);
  EXPECT_GT(j["citation_correct"].get<double>(), 0.0);
  EXPECT_GE(j["recall_at_k"]["bm25"].get<double>(), 0.7);
  EXPECT_GE(j["recall_at_k"]["hybrid"].get<double>(), 0.7);
  // The figures come from the rows.
  int answered = 0, answerable = 0;
  for (const auto& row : j["rows"]) {
    if (!row["answerable"].get<bool>()) continue;
    ++answerable;
    answered += row["answered_correctly"].get<bool>();
    if (row["answered_correctly"].get<bool>()) {
      EXPECT_GT(row["citations_correct"].get<int>(), 0) << row["id"];
    }
  }
  EXPECT_DOUBLE_EQ(j["answered_correctly"].get<double>(), static_cast<double>(answered) / answerable);
}

TEST_F(LocalResearch, GeneratorRecordIsReproduced) {
  // The committed record that sends the tiny model to extractive answers is measured again here.
  Json record = *parse_json(testing::read_file(repo(kChat + ".keel-eval.json")));
  auto r = testing::run_keel({"eval", "local-research", "--spec", repo("examples/local-research.yaml"), "--answer",
                              "generate", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = json_of(r);
  EXPECT_EQ(j["answer_mode"], "generate");
  EXPECT_NEAR(j["answered_correctly"].get<double>(), record["answered_correctly"].get<double>(), 1.0 / 32 + 1e-9);
  EXPECT_LT(j["answered_correctly"].get<double>(), 0.5) << "the floor that makes the demo quote";
}

}  // namespace
}  // namespace keel
