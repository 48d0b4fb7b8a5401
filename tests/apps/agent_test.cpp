// `keel agent` end to end, as separate processes with the real tiny model: the example case
// with a human approval, workers killed with SIGKILL at every step boundary and in the middle of
// every tool call (against an order system that deduplicates and one that does not), a model
// server restarted mid-case, PostgreSQL stopped mid-case, and several workers sharing a
// PostgreSQL journal. Effects are counted from the order system's own ledger.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "agent/memory_store.h"
#include "samples/order_system.h"
#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

std::string example_spec() { return testing::source_dir() + "/examples/durable-agent.yaml"; }
std::string demo_key() { return testing::source_dir() + "/examples/durable-agent/supervisor.demo.key"; }

testing::CommandResult agent(std::vector<std::string> args, const std::string& state_dir,
                             const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> argv = {testing::keel_binary(), "agent"};
  argv.insert(argv.end(), args.begin(), args.end());
  if (!state_dir.empty()) argv.insert(argv.end(), {"--state-dir", state_dir});
  return testing::run_command(argv, "", env, 300);
}

Json json_of(const testing::CommandResult& r) {
  auto j = parse_json(r.out);
  EXPECT_TRUE(j.ok()) << r.out << r.err;
  return j.ok() ? *j : Json();
}

samples::OrderSystem::LedgerCounts ledger(const std::string& dir, const std::string& case_id) {
  auto sor = samples::OrderSystem::open(dir + "/orders.db");
  EXPECT_TRUE(sor.ok());
  auto counts = (*sor)->ledger_for_case(case_id);
  EXPECT_TRUE(counts.ok());
  return *counts;
}

int64_t memory_notes(const std::string& dir, const std::string& subject) {
  auto m = agent::MemoryStore::open(dir + "/memory.db");
  EXPECT_TRUE(m.ok());
  auto notes = (*m)->read(subject);
  return notes.ok() ? static_cast<int64_t>(notes->size()) : -1;
}

TEST(AgentCommand, TheExampleCaseRunsWithARealModelAndAHumanApproval) {
  testing::TempDir dir;
  auto run = agent({"run", example_spec(), "--case", "CASE-2", "--json"}, dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  Json out = json_of(run);
  EXPECT_EQ(out["state"], "waiting_approval");
  auto pending = json_of(agent({"pending", "--spec", example_spec(), "--json"}, dir.path()));
  ASSERT_EQ(pending.size(), 1u) << pending.dump();
  EXPECT_EQ(pending[0]["tool"], "issue_refund");
  EXPECT_EQ(pending[0]["args"]["amount"], 240.0);
  EXPECT_FALSE(pending[0]["evidence"]["reason"].get<std::string>().empty());
  const std::string step = std::to_string(pending[0]["step"].get<int>());
  auto self = agent({"approve", "CASE-2", step, "--by", "agent", "--args-sha256", pending[0]["args_sha256"], "--spec", example_spec()},
                    dir.path());
  EXPECT_EQ(self.exit_code, 2) << "the agent may not approve";
  auto ok = agent({"approve", "CASE-2", step, "--key", demo_key(), "--args-sha256", pending[0]["args_sha256"], "--spec", example_spec()},
                  dir.path());
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  auto resumed = agent({"resume", "CASE-2", "--spec", example_spec(), "--json"}, dir.path());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  auto status = json_of(agent({"status", "CASE-2", "--spec", example_spec(), "--json"}, dir.path()));
  EXPECT_EQ(status["state"], "completed");
  EXPECT_EQ(status["result"]["decision"], "refunded");
  EXPECT_TRUE(status["result"]["verified"].get<bool>());
  // The model really ran: its reply is in the case and its tokens are counted.
  EXPECT_FALSE(status["result"]["reply"].get<std::string>().empty());
  auto replay = json_of(agent({"replay", "CASE-2", "--spec", example_spec(), "--json"}, dir.path()));
  ASSERT_GE(replay["steps"].size(), 12u);
  bool saw_refund = false, saw_model = false;
  for (const auto& s : replay["steps"]) {
    for (const char* key : {"kind", "tool", "args", "idempotency_key", "outcome"}) EXPECT_TRUE(s.contains(key)) << key << s.dump();
    if (s["tool"] == "issue_refund") {
      saw_refund = true;
      EXPECT_EQ(s["approval"]["decision"], "granted");
      EXPECT_EQ(s["approval"]["by"], "supervisor");
      EXPECT_EQ(s["approval"]["authentication"], "ed25519-signature");
      EXPECT_TRUE(s["approval"]["signature_verified"].get<bool>());
      EXPECT_EQ(s["approval"]["args_sha256"], pending[0]["args_sha256"]);
      EXPECT_EQ(s["approval"]["shown"]["args"], pending[0]["args"]) << "the record keeps what the reviewer saw";
      EXPECT_EQ(s["approval"]["shown"]["evidence"], pending[0]["evidence"]);
      EXPECT_EQ(s["idempotency_key"].get<std::string>().rfind("keel-", 0), 0u);
      EXPECT_EQ(s["outcome"]["result"]["status"], "issued");
    }
    if (s["kind"] == "model") {
      saw_model = true;
      EXPECT_GT(s["tokens"]["completion"].get<int>(), 0);
    }
  }
  EXPECT_TRUE(saw_refund);
  EXPECT_TRUE(saw_model);
  auto text = agent({"replay", "CASE-2", "--spec", example_spec()}, dir.path());
  EXPECT_NE(text.out.find("approval_granted"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("issue_refund by supervisor [ed25519-signature by ed25519:ffe746a36d66... (verifies)]"),
            std::string::npos)
      << text.out;
  auto stats = json_of(agent({"stats", "--spec", example_spec(), "--json"}, dir.path()));
  EXPECT_EQ(stats["cases"]["completed"], 1);
  EXPECT_EQ(stats["approvals"]["granted"], 1);
  EXPECT_GT(stats["model"]["completion_tokens"].get<int>(), 0);
  auto prom = agent({"stats", "--spec", example_spec(), "--prometheus"}, dir.path());
  auto check = testing::run_command({"promtool", "check", "metrics"}, prom.out);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  auto ledger_counts = ledger(dir.path(), "CASE-2");
  EXPECT_EQ(ledger_counts.refunds, 1);
  // Starting the same case again is refused with the way forward.
  auto again = agent({"run", example_spec(), "--case", "CASE-2"}, dir.path());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("keel agent resume CASE-2"), std::string::npos) << again.err;
}

// Every way of approving without proof is refused (exit 2, or 1 for a hash that is not the
// request's), leaves the action pending and executes nothing; the signed approval then goes through.
TEST(AgentCommand, OnlyAProvenApproverMayApprove) {
  testing::TempDir dir;
  ASSERT_EQ(agent({"run", example_spec(), "--case", "CASE-2", "--json"}, dir.path()).exit_code, 0);
  auto pending = json_of(agent({"pending", "--spec", example_spec(), "--json"}, dir.path()));
  ASSERT_EQ(pending.size(), 1u) << pending.dump();
  const std::string step = std::to_string(pending[0]["step"].get<int>());
  const std::string hash = pending[0]["args_sha256"];
  auto still_pending = [&] {
    auto p = json_of(agent({"pending", "--spec", example_spec(), "--json"}, dir.path()));
    EXPECT_EQ(p.size(), 1u) << "a refused approval changed the pending list: " << p.dump();
    EXPECT_EQ(ledger(dir.path(), "CASE-2").refunds, 0);
  };
  auto approve = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"approve", "CASE-2", step, "--spec", example_spec()};
    args.insert(args.end(), extra.begin(), extra.end());
    return agent(args, dir.path());
  };
  // A name alone: the supervisor has a registered key.
  auto unsigned_one = approve({"--by", "supervisor", "--args-sha256", hash});
  EXPECT_EQ(unsigned_one.exit_code, 2) << unsigned_one.err;
  EXPECT_NE(unsigned_one.err.find("must be signed"), std::string::npos) << unsigned_one.err;
  still_pending();
  // A fresh key that claims to be the supervisor's.
  auto keygen = testing::run_keel({"agent", "keygen", "--principal", "supervisor", "--out", dir.file("rogue.key"), "--json"});
  ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  Json made = json_of(keygen);
  EXPECT_NE(made["spec_entry"].get<std::string>().find(made["public_key"].get<std::string>()), std::string::npos) << made.dump();
  EXPECT_EQ(made["public_key"].get<std::string>().rfind("ed25519:", 0), 0u);
  auto rogue = approve({"--key", dir.file("rogue.key"), "--args-sha256", hash});
  EXPECT_EQ(rogue.exit_code, 2) << rogue.err;
  EXPECT_NE(rogue.err.find("does not verify"), std::string::npos) << rogue.err;
  still_pending();
  // The same key file edited to name another principal.
  std::string edited = testing::read_file(demo_key());
  edited.replace(edited.find("\"supervisor\""), 12, "\"agent\"");
  testing::write_file(dir.file("edited.key"), edited);
  auto as_agent = approve({"--key", dir.file("edited.key"), "--args-sha256", hash});
  EXPECT_EQ(as_agent.exit_code, 2) << as_agent.err;
  EXPECT_NE(as_agent.err.find("does not hold a role that may approve issue_refund"), std::string::npos) << as_agent.err;
  still_pending();
  // The agent itself, with no role that may approve.
  auto self = approve({"--by", "agent", "--args-sha256", hash});
  EXPECT_EQ(self.exit_code, 2) << self.err;
  still_pending();
  // A key that is not the named principal's.
  auto mismatch = approve({"--key", demo_key(), "--by", "agent", "--args-sha256", hash});
  EXPECT_EQ(mismatch.exit_code, 2) << mismatch.err;
  still_pending();
  // No hash, or the hash of other arguments.
  auto no_hash = approve({"--key", demo_key()});
  EXPECT_NE(no_hash.exit_code, 0);
  EXPECT_NE(no_hash.err.find("--args-sha256"), std::string::npos) << no_hash.err;
  auto other_hash = approve({"--key", demo_key(), "--args-sha256", std::string(64, '0')});
  EXPECT_EQ(other_hash.exit_code, 1) << other_hash.err;
  EXPECT_NE(other_hash.err.find("not the ones you reviewed"), std::string::npos) << other_hash.err;
  still_pending();
  // The supervisor's signed approval.
  auto ok = approve({"--key", demo_key(), "--args-sha256", hash, "--reason", "receipt checked", "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(json_of(ok)["authentication"], "ed25519-signature");
  EXPECT_NE(ok.err.find("demo key"), std::string::npos) << "using the committed demo key is called out: " << ok.err;
  ASSERT_EQ(agent({"resume", "CASE-2", "--spec", example_spec()}, dir.path()).exit_code, 0);
  EXPECT_EQ(ledger(dir.path(), "CASE-2").refunds, 1);
  // keygen never overwrites a key.
  auto again = testing::run_keel({"agent", "keygen", "--principal", "supervisor", "--out", dir.file("rogue.key")});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("never overwritten"), std::string::npos) << again.err;
}

// Kills the worker at `point` of `step`, then resumes until the case completes.
void kill_and_recover(const std::string& template_dir, bool dedupe, int step, const std::string& point, int64_t* prevented) {
  SCOPED_TRACE(point + " of step " + std::to_string(step) + (dedupe ? " (deduplicating order system)" : " (order system without deduplication)"));
  testing::TempDir dir;
  std::filesystem::copy_file(template_dir + "/orders.db", dir.file("orders.db"));
  auto killed = agent({"run", example_spec(), "--case", "CASE-1", "--json"}, dir.path(),
                      {{"KEEL_AGENT_FAULT", "kill:" + point + ":" + std::to_string(step)}});
  EXPECT_EQ(killed.exit_code, 128 + SIGKILL) << killed.out << killed.err;
  // The restarted worker sees that the lease holder's process is gone and takes over at once.
  auto resumed = agent({"resume", "CASE-1", "--spec", example_spec(), "--json"}, dir.path());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_EQ(json_of(resumed)["state"], "completed") << resumed.out;
  auto l = ledger(dir.path(), "CASE-1");
  EXPECT_EQ(l.refunds, 1);
  EXPECT_EQ(l.status_changes, 2);
  EXPECT_EQ(l.notes, 1);
  EXPECT_EQ(memory_notes(dir.path(), "C-100"), 1);
  auto stats = json_of(agent({"stats", "--spec", example_spec(), "--json"}, dir.path()));
  *prevented += stats["duplicates_prevented"].get<int64_t>() + l.dedupe_hits;
}

TEST(AgentCommand, AWorkerKilledAtAnyPointStillTakesEachActionExactlyOnce) {
  for (bool dedupe : {true, false}) {
    testing::TempDir template_dir;
    {
      auto sor = samples::OrderSystem::open(template_dir.file("orders.db"));
      ASSERT_TRUE(sor.ok());
      ASSERT_TRUE((*sor)->set_config("dedupe_by_idempotency_key", dedupe ? 1 : 0).ok());
    }
    int64_t prevented = 0;
    // CASE-1 has 12 steps: four reads, the model, six writes, and the outcome checks.
    for (int step = 0; step < 12; ++step) {
      for (const char* point : {"before-intent", "after-intent", "after-effect"}) {
        kill_and_recover(template_dir.path(), dedupe, step, point, &prevented);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    // Every kill after a write's effect left an unknown outcome that was resolved without
    // applying the write again (5 writes: status, refund, note, memory, status).
    std::printf("[ agent ] %s order system: %lld duplicate write(s) prevented over 36 kills\n",
                dedupe ? "deduplicating" : "non-deduplicating", static_cast<long long>(prevented));
    EXPECT_GE(prevented, 5);
  }
}

TEST(AgentCommand, AModelServerRestartPausesTheCaseAndItResumes) {
  testing::TempDir dir;
  // Calling a model endpoint needs egress to it.
  std::string spec = testing::read_file(example_spec());
  spec.replace(spec.find("egress: none"), 12, "egress: {allow: [127.0.0.1]}");
  spec.replace(spec.find("../models/"), 10, testing::source_dir() + "/models/");
  testing::write_file(dir.file("agent.yaml"), spec);
  auto start_server = [] {
    auto s = std::make_unique<testing::BackgroundProcess>(std::vector<std::string>{
        testing::keel_binary(), "serve", "--port", "0", "--model", testing::source_dir() + "/models/keel-tiny-chat.gguf",
        "--model-id", "main"});
    EXPECT_TRUE(s->wait_for_output("ready (")) << s->output();
    return s;
  };
  auto server = start_server();
  std::string url = testing::listening_url(server->output()) + "/v1";
  auto first = agent({"run", dir.file("agent.yaml"), "--case", "CASE-1", "--model-url", url, "--max-steps", "4", "--json"}, dir.path());
  EXPECT_EQ(first.exit_code, 3) << first.out << first.err;  // paused before the model step
  server->signal(SIGKILL);
  server->wait();
  auto down = agent({"resume", "CASE-1", "--spec", dir.file("agent.yaml"), "--model-url", url, "--json"}, dir.path());
  EXPECT_EQ(down.exit_code, 3) << down.out << down.err;
  EXPECT_EQ(json_of(down)["state"], "running");
  EXPECT_NE(json_of(down)["message"].get<std::string>().find("did not answer"), std::string::npos) << down.out;
  server = start_server();
  url = testing::listening_url(server->output()) + "/v1";
  auto done = agent({"resume", "CASE-1", "--spec", dir.file("agent.yaml"), "--model-url", url, "--json"}, dir.path());
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_EQ(json_of(done)["state"], "completed");
  EXPECT_EQ(ledger(dir.path(), "CASE-1").refunds, 1);
  auto replay = json_of(agent({"replay", "CASE-1", "--spec", dir.file("agent.yaml"), "--json"}, dir.path()));
  bool model_retried = false;
  for (const auto& s : replay["steps"]) model_retried = model_retried || (s["kind"] == "model" && s["attempts_failed"].get<int>() == 1);
  EXPECT_TRUE(model_retried) << replay.dump();
  // The spec without egress refuses a model URL outright.
  auto refused = agent({"resume", "CASE-1", "--spec", example_spec(), "--model-url", url}, dir.path());
  EXPECT_EQ(refused.exit_code, 2);
}

TEST(AgentCommand, APostgresJournalRidesOutADatabaseStop) {
  testing::PostgresServer pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  testing::TempDir dir;
  auto first = agent({"run", example_spec(), "--case", "CASE-1", "--journal", pg.uri(), "--max-steps", "6", "--json"}, dir.path());
  EXPECT_EQ(first.exit_code, 3) << first.out << first.err;
  ASSERT_TRUE(pg.stop());
  auto down = agent({"resume", "CASE-1", "--spec", example_spec(), "--journal", pg.uri()}, dir.path());
  EXPECT_EQ(down.exit_code, 3) << down.out << down.err;
  EXPECT_NE(down.err.find("PostgreSQL"), std::string::npos) << down.err;
  ASSERT_TRUE(pg.start()) << pg.error();
  auto done = agent({"resume", "CASE-1", "--spec", example_spec(), "--journal", pg.uri(), "--json"}, dir.path());
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_EQ(json_of(done)["state"], "completed");
  auto l = ledger(dir.path(), "CASE-1");
  EXPECT_EQ(l.refunds, 1);
  EXPECT_EQ(l.status_changes, 2);
}

TEST(AgentCommand, SeveralWorkersShareAPostgresJournal) {
  testing::PostgresServer pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  testing::TempDir dir;
  const std::vector<std::string> cases = {"CASE-1", "CASE-3", "CASE-4", "CASE-5"};
  for (const auto& c : cases) {
    auto created = agent({"run", example_spec(), "--case", c, "--journal", pg.uri(), "--max-steps", "0"}, dir.path());
    ASSERT_EQ(created.exit_code, 3) << created.out << created.err;
  }
  std::vector<std::unique_ptr<testing::BackgroundProcess>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(std::make_unique<testing::BackgroundProcess>(std::vector<std::string>{
        testing::keel_binary(), "agent", "work", "--spec", example_spec(), "--journal", pg.uri(), "--state-dir", dir.path(), "--json"}));
  }
  int64_t ran = 0;
  for (auto& w : workers) {
    EXPECT_EQ(w->wait(120000), 0) << w->output();
    auto j = parse_json(w->output().substr(w->output().find('{')));
    if (j.ok()) ran += (*j)["cases_run"].get<int64_t>();
  }
  EXPECT_EQ(ran, static_cast<int64_t>(cases.size())) << "each case is run by exactly one worker";
  for (const auto& c : cases) {
    auto status = json_of(agent({"status", c, "--spec", example_spec(), "--journal", pg.uri(), "--json"}, dir.path()));
    EXPECT_EQ(status["state"], "completed") << c;
    auto l = ledger(dir.path(), c);
    EXPECT_EQ(l.status_changes, 2) << c;
    EXPECT_EQ(l.notes, 1) << c;
    EXPECT_EQ(l.refunds, c == "CASE-1" ? 1 : 0) << c;
  }
}

}  // namespace
}  // namespace keel
