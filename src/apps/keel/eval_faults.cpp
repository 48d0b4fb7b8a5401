// keel eval SCENARIO --faults: see eval_faults.h. Each injection works on copies (a temporary
// folder, removed at the end) and on the real components: the indexer and store, the seccomp
// egress guard, the engine's memory fit, the `keel agent` binary killed with SIGKILL, the
// sample order system timing out after a commit, the case runner's approval deadlines on an
// injected clock, a tmpfs filled to ENOSPC.
#include "apps/keel/eval_faults.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <vector>

#include "agent/agent_deployment.h"
#include "agent/journal.h"
#include "apps/keel/example_paths.h"
#include "samples/order_system.h"
#include "samples/samples.h"
#include "context/indexer.h"
#include "context/store.h"
#include "contract/checks.h"
#include "contract/egress_guard.h"
#include "contract/fault_injections.h"
#include "contract/spec_parser.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/sqlite_db.h"
#include "core/text_table.h"
#include "engine/memory_fit.h"

namespace keel::app {
namespace {

namespace fs = std::filesystem;

struct FaultRun {
  std::string fault;
  std::string injected;  //!< how
  std::string observed;  //!< what the runtime did
  bool ran = true;
  bool passed = false;
};

// One line per cell: SQLite and the engine put line breaks in some messages.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

FaultRun with_observed(FaultRun r, std::string observed) {
  r.observed = std::move(observed);
  return r;
}

FaultRun not_run(std::string fault, std::string why) {
  return {std::move(fault), "", std::move(why), false, false};
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("keel") : p.string();
}

struct ProcessResult {
  int code = -1;  //!< 128 + signal when killed
  std::string out, err;
};

// Runs a program to completion with extra environment variables; stdout and stderr go to
// files in `scratch` and are read back.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::vector<std::pair<std::string, std::string>>& env,
                          const std::string& scratch) {
  const std::string out_path = scratch + "/.out", err_path = scratch + "/.err";
  pid_t pid = fork();
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(127);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  ProcessResult r;
  if (pid < 0) return r;
  int status = 0;
  waitpid(pid, &status, 0);
  r.code = WIFEXITED(status)     ? WEXITSTATUS(status)
           : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                 : -1;
  r.out = read_all(out_path);
  r.err = read_all(err_path);
  return r;
}

// Runs `body` in a forked child (for what cannot be undone in this process: the egress guard,
// a mount namespace). The child's message comes back through a pipe.
struct ChildResult {
  bool ok = false;
  std::string message;
};
ChildResult in_child(const std::function<ChildResult()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return {false, std::string("pipe: ") + std::strerror(errno)};
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    ChildResult r = body();
    std::string line = (r.ok ? "1" : "0") + r.message;
    ssize_t ignored = write(fds[1], line.data(), line.size());
    (void)ignored;
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string got;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;)
    got.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got.empty())
    return {false, fmt::format("the child process ended without a report (status {})", status)};
  return {got[0] == '1', got.substr(1)};
}

// Mounts a tmpfs of `bytes` on `dir` inside a private mount namespace of this (child) process.
Status mount_small_tmpfs(const std::string& dir, size_t bytes) {
  if (unshare(CLONE_NEWNS) != 0)
    return Status::permission_denied(fmt::format("unshare(CLONE_NEWNS): {}", std::strerror(errno)));
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Status::permission_denied(
        fmt::format("making mounts private: {}", std::strerror(errno)));
  }
  std::string options = fmt::format("size={},mode=0755", bytes);
  if (mount("keel-eval-tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return Status::permission_denied(
        fmt::format("mount tmpfs on {}: {}", dir, std::strerror(errno)));
  }
  return Status();
}

// Writes until the file system refuses (ENOSPC); returns the bytes written.
int64_t fill_disk(const std::string& dir) {
  int fd = ::open((dir + "/.filler").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return -1;
  std::vector<char> block(4096, 'f');
  int64_t written = 0;
  for (ssize_t n; (n = ::write(fd, block.data(), block.size())) > 0;) written += n;
  while (::write(fd, block.data(), 1) == 1) ++written;
  ::close(fd);
  return written;
}

bool integrity_ok(const std::string& path, std::string* message) {
  SqliteOptions check;
  check.read_only = true;
  check.integrity_check = true;
  auto db = Database::open(path, check);
  if (!db.ok()) *message = db.status().to_string();
  return db.ok();
}

// ---- local-research --------------------------------------------------------------------------

struct ResearchSetup {
  std::string docs;   // the spec's folder
  std::string model;  // generate model
  std::string model_id;
  std::string work;  // temporary folder
};

Result<context::IndexReport> index_bm25(const std::string& docs, const std::string& store) {
  context::IndexOptions o;
  o.docs_dir = docs;
  o.store_path = store;
  return context::index_documents(o);
}

FaultRun stale_index(const ResearchSetup& s) {
  FaultRun r{"stale-index", "a document edited after indexing (a copy of the spec's folder)", "",
             true, false};
  const std::string docs = s.work + "/stale-docs", store = s.work + "/stale.db";
  std::error_code ec;
  fs::copy(s.docs, docs, fs::copy_options::recursive, ec);
  if (ec) return with_observed(r, "cannot copy the documents: " + ec.message());
  auto first = index_bm25(docs, store);
  if (!first.ok()) return with_observed(r, first.status().to_string());
  auto files = context::list_documents(docs).files;
  std::string victim;
  for (const auto& f : files) {
    if (f.ends_with(".md") || f.ends_with(".txt")) {
      victim = f;
      break;
    }
  }
  if (victim.empty()) return with_observed(r, "no text document to edit");
  {
    std::ofstream out(docs + "/" + victim, std::ios::app);
    out << "\nThis sentence was added after the document was indexed.\n";
  }
  fs::last_write_time(docs + "/" + victim,
                      fs::last_write_time(docs + "/" + victim) + std::chrono::seconds(2), ec);
  auto store_open = context::DocumentStore::open(store, true);
  if (!store_open.ok()) return with_observed(r, store_open.status().to_string());
  auto fresh = context::check_freshness(**store_open, docs);
  store_open->reset();
  if (!fresh.ok()) return with_observed(r, fresh.status().to_string());
  const bool named = fresh->stale == std::vector<std::string>{victim};
  auto again = index_bm25(docs, store);
  if (!again.ok()) return with_observed(r, again.status().to_string());
  auto reopened = context::DocumentStore::open(store, true);
  auto after = reopened.ok() ? context::check_freshness(**reopened, docs)
                             : Result<context::FreshnessReport>(reopened.status());
  const bool clean =
      after.ok() && after->stale.empty() && after->missing.empty() && after->unindexed.empty();
  r.observed = fmt::format(
      "freshness named {} stale ({}); re-indexing indexed {} and left {} unchanged; {}", victim,
      named ? "only it" : fmt::format("{} stale", fresh->stale.size()), again->indexed,
      again->unchanged, clean ? "the index is fresh again" : "the index is still not fresh");
  r.passed = named && again->indexed == 1 && again->unchanged + 1 == first->indexed && clean;
  return r;
}

FaultRun storage_corrupt(const ResearchSetup& s) {
  FaultRun r{"storage-corrupt", "the pages of the store's second quarter overwritten with noise",
             "", true, false};
  const std::string store = s.work + "/corrupt.db";
  auto built = index_bm25(s.docs, store);
  if (!built.ok()) return with_observed(r, built.status().to_string());
  {
    // A few bytes can land where SQLite's quick check does not look (a free page, cell
    // content); whole pages of b-tree headers cannot.
    auto size = fs::file_size(store);
    std::fstream f(store, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 4));
    std::string noise(size / 4, '\x5a');
    f.write(noise.data(), static_cast<std::streamsize>(noise.size()));
  }
  auto damaged = context::DocumentStore::open(store, true);
  if (damaged.ok()) return with_observed(r, "the damaged store opened as if it were fine");
  const bool refused = damaged.status().code() == StatusCode::data_loss &&
                       damaged.status().message().find(store) != std::string::npos;
  std::error_code ec;
  fs::remove(store, ec);
  auto rebuilt = index_bm25(s.docs, store);
  const bool recovered = rebuilt.ok() && rebuilt->documents_in_store == built->documents_in_store;
  r.observed = fmt::format("opening it was refused ({}); rebuilt from the documents: {}",
                           damaged.status().to_string(),
                           rebuilt.ok() ? fmt::format("{} documents", rebuilt->documents_in_store)
                                        : rebuilt.status().to_string());
  r.passed = refused && recovered;
  return r;
}

FaultRun egress_attempt(const contract::Spec& spec) {
  if (!spec.deployment.egress.none)
    return not_run("egress-attempt", "the spec allows egress; there is no guard to attack");
  FaultRun r{"egress-attempt",
             "socket(AF_INET) and socket(AF_INET6) in a process with the guard installed", "", true,
             false};
  ChildResult c = in_child([] {
    Status guard = contract::install_egress_guard();
    if (!guard.ok())
      return ChildResult{false, "the guard could not be installed: " + guard.to_string()};
    std::vector<std::string> seen;
    bool all_refused = true;
    for (int family : {AF_INET, AF_INET6}) {
      int fd = socket(family, SOCK_STREAM, 0);
      int e = errno;
      if (fd >= 0) {
        close(fd);
        all_refused = false;
        seen.push_back(fmt::format("{} got a socket", family == AF_INET ? "AF_INET" : "AF_INET6"));
      } else {
        all_refused &= e == EACCES;
        seen.push_back(
            fmt::format("{}: {}", family == AF_INET ? "AF_INET" : "AF_INET6", std::strerror(e)));
      }
    }
    return ChildResult{all_refused,
                       fmt::format("{}; no connection can start", fmt::join(seen, ", "))};
  });
  r.observed = c.message;
  r.passed = c.ok;
  return r;
}

FaultRun model_unfit(const ResearchSetup& s) {
  if (s.model.empty()) return not_run("model-unfit", "the spec names no local generate model");
  FaultRun r{"model-unfit", "", "", true, false};
  engine::ContextOptions options;
  options.n_ctx = 2048;
  auto estimate = engine::estimate_model_memory(s.model, options);
  if (!estimate.ok()) return with_observed(r, estimate.status().to_string());
  const int64_t budget_mb = static_cast<int64_t>(estimate->total() / 2 / 1048576);
  r.injected = fmt::format("a memory budget of {} MiB for model {}, half its estimate", budget_mb,
                           s.model_id);
  auto decision = engine::choose_model({{s.model_id, s.model, budget_mb}}, options);
  if (decision.ok())
    return with_observed(r, "the model was accepted within a budget it does not fit");
  r.observed = "refused before loading: " + decision.status().message();
  r.passed = decision.status().code() == StatusCode::resource_exhausted;
  return r;
}

FaultRun index_disk_full(const ResearchSetup& s) {
  if (geteuid() != 0) return not_run("disk-full", "mounting a small tmpfs needs root");
  FaultRun r{"disk-full",
             "the store on an 8 MiB tmpfs filled to ENOSPC while new documents are indexed", "",
             true, false};
  const std::string mount_dir = s.work + "/disk-full", docs = s.work + "/disk-full-docs";
  std::error_code ec;
  fs::create_directories(mount_dir, ec);
  fs::copy(s.docs, docs, fs::copy_options::recursive, ec);
  ChildResult c = in_child([&] {
    if (Status m = mount_small_tmpfs(mount_dir, 8 << 20); !m.ok())
      return ChildResult{false, m.message()};
    const std::string store = mount_dir + "/store.db";
    auto first = index_bm25(docs, store);
    if (!first.ok())
      return ChildResult{false, "indexing before the fault: " + first.status().to_string()};
    for (int i = 0; i < 4; ++i) {
      std::ofstream out(fmt::format("{}/added-{}.md", docs, i));
      for (int j = 0; j < 400; ++j)
        out << "Added report " << i << " line " << j << " about harvest, rainfall and yield. ";
    }
    if (fill_disk(mount_dir) <= 0) return ChildResult{false, "could not fill the tmpfs"};
    auto full = index_bm25(docs, store);
    if (full.ok()) return ChildResult{false, "indexing on a full disk reported success"};
    std::string integrity;
    const bool consistent = integrity_ok(store, &integrity);
    ::unlink((mount_dir + "/.filler").c_str());
    auto again = index_bm25(docs, store);
    const bool named = full.status().code() == StatusCode::resource_exhausted &&
                       full.status().message().find(store) != std::string::npos;
    return ChildResult{
        named && consistent && again.ok() &&
            again->documents_in_store == first->documents_in_store + 4,
        fmt::format("failed with {}; the store {} its integrity check; after freeing space: {}",
                    full.status().to_string(), consistent ? "passed" : "FAILED (" + integrity + ")",
                    again.ok() ? fmt::format("{} documents indexed", again->documents_in_store)
                               : again.status().to_string())};
  });
  r.observed = c.message;
  r.passed = c.ok;
  return r;
}

std::vector<FaultRun> local_research_faults(const contract::Spec& spec, const std::string& work) {
  ResearchSetup s;
  s.work = work;
  for (const auto& src : spec.data.sources) {
    if (src.kind == contract::SourceKind::folder && s.docs.empty())
      s.docs = contract::resolve_spec_path(spec, src.path);
  }
  for (const auto& m : spec.deployment.models) {
    if (m.role == contract::ModelRole::generate && m.runs == contract::ModelPlacement::local &&
        s.model.empty()) {
      s.model = contract::resolve_spec_path(spec, m.path);
      s.model_id = m.id;
    }
  }
  std::vector<FaultRun> out;
  // The forking injections first, while this process has no other thread.
  out.push_back(egress_attempt(spec));
  if (s.docs.empty()) {
    out.push_back(not_run("stale-index", "the spec has no folder source"));
  } else {
    out.push_back(index_disk_full(s));
    out.push_back(stale_index(s));
    out.push_back(storage_corrupt(s));
  }
  out.push_back(model_unfit(s));
  return out;
}

// ---- durable-agent ---------------------------------------------------------------------------

Result<samples::OrderSystem::LedgerCounts> ledger(const std::string& orders,
                                                      const std::string& case_id) {
  KEEL_ASSIGN_OR_RETURN(auto sor, samples::OrderSystem::open(orders));
  return sor->ledger_for_case(case_id);
}

std::string describe(const samples::OrderSystem::LedgerCounts& l) {
  return fmt::format("{} refund(s), {} status change(s), {} note(s)", l.refunds, l.status_changes,
                     l.notes);
}

// CASE-1 of the sample order system: a refund of 45 (no approval), two status changes, a note.
bool case1_exactly_once(const samples::OrderSystem::LedgerCounts& l) {
  return l.refunds == 1 && l.status_changes == 2 && l.notes == 1;
}

FaultRun worker_kill(const std::string& spec_path, const std::string& work) {
  FaultRun r{"worker-kill",
             "`keel agent run` SIGKILLed right after the refund took effect (step 6), order system "
             "without deduplication",
             "", true, false};
  const std::string state = work + "/worker-kill";
  fs::create_directories(state);
  {
    auto sor = samples::OrderSystem::open(state + "/orders.db");
    if (!sor.ok() || !(*sor)->set_config("dedupe_by_idempotency_key", 0).ok())
      return with_observed(r, "cannot prepare the order system");
  }
  const std::string keel = self_exe();
  auto killed = run_process(
      {keel, "agent", "run", spec_path, "--case", "CASE-1", "--state-dir", state, "--json"},
      {{"KEEL_AGENT_FAULT", "kill:after-effect:6"}}, work);
  if (killed.code != 128 + SIGKILL) {
    return with_observed(r, fmt::format("the worker was not killed (exit {}): {}", killed.code,
                                        killed.err.substr(0, 300)));
  }
  auto resumed = run_process(
      {keel, "agent", "resume", "CASE-1", "--spec", spec_path, "--state-dir", state, "--json"}, {},
      work);
  auto j = parse_json(resumed.out);
  const std::string state_name = j.ok() ? j->value("state", "") : "";
  auto l = ledger(state + "/orders.db", "CASE-1");
  r.observed = fmt::format(
      "killed by SIGKILL; a new worker resumed: {}; order system ledger: {}",
      resumed.code == 0 ? state_name
                        : fmt::format("exit {} {}", resumed.code, resumed.err.substr(0, 200)),
      l.ok() ? describe(*l) : l.status().to_string());
  r.passed = resumed.code == 0 && state_name == "completed" && l.ok() && case1_exactly_once(*l);
  return r;
}

int64_t count_records(const std::string& journal_path, const std::string& case_id,
                      std::string_view kind) {
  auto j = agent::open_journal(journal_path);
  if (!j.ok()) return -1;
  auto records = (*j)->read(case_id);
  if (!records.ok()) return -1;
  int64_t n = 0;
  for (const auto& rec : *records) n += rec.kind == kind;
  return n;
}

FaultRun tool_timeout(const std::string& spec_path, const std::string& work) {
  FaultRun r{"tool-timeout",
             "the order system commits the first write, then reports a timeout (no deduplication)",
             "", true, false};
  const std::string state = work + "/tool-timeout";
  fs::create_directories(state);
  {
    auto sor = samples::OrderSystem::open(state + "/orders.db");
    if (!sor.ok() || !(*sor)->set_config("dedupe_by_idempotency_key", 0).ok() ||
        !(*sor)->set_config("timeouts_after_commit", 1).ok()) {
      return with_observed(r, "cannot prepare the order system");
    }
  }
  auto run = run_process(
      {self_exe(), "agent", "run", spec_path, "--case", "CASE-1", "--state-dir", state, "--json"},
      {}, work);
  auto j = parse_json(run.out);
  const std::string state_name = j.ok() ? j->value("state", "") : "";
  const int64_t checks =
      count_records(state + "/journal.db", "CASE-1", agent::record::outcome_check);
  auto l = ledger(state + "/orders.db", "CASE-1");
  r.observed = fmt::format(
      "case {}; {} outcome check(s) journaled instead of a blind retry; ledger: {}",
      run.code == 0 ? state_name : fmt::format("exit {} {}", run.code, run.err.substr(0, 200)),
      checks, l.ok() ? describe(*l) : l.status().to_string());
  r.passed =
      run.code == 0 && state_name == "completed" && checks >= 1 && l.ok() && case1_exactly_once(*l);
  return r;
}

FaultRun approval_timeout(const contract::Spec& spec, const std::string& work) {
  std::optional<double> remind, expire;
  for (const auto& t : spec.authority.tools) {
    if (t.approval == contract::Approval::none) continue;
    if (t.approval_remind_after_s) remind = t.approval_remind_after_s;
    if (t.approval_expire_after_s) expire = t.approval_expire_after_s;
  }
  if (!expire)
    return not_run(
        "approval-timeout",
        "no tool declares approval_expire_after_s: an approval waits without a deadline");
  FaultRun r{"approval-timeout",
             fmt::format("an injected clock moved past the reminder ({} s) and the expiry ({} s) "
                         "of a pending refund approval",
                         remind.value_or(0), *expire),
             "", true, false};
  ManualClock clock;
  agent::AgentDeploymentOptions options;
  options.catalog = &samples::sample_catalog();
  options.state_dir = work + "/approval-timeout";
  options.runner.clock = &clock;
  fs::create_directories(options.state_dir);
  auto d = agent::AgentDeployment::open(spec, options);
  if (!d.ok()) return with_observed(r, d.status().to_string());
  auto& runner = (*d)->runner();
  auto started = runner.start("CASE-2", (*d)->default_workflow(), {{"case_id", "CASE-2"}},
                              (*d)->default_principal());
  if (!started.ok() || started->state != agent::CaseState::waiting_approval) {
    return with_observed(r, "CASE-2 did not wait for an approval: " +
                                (started.ok() ? started->message : started.status().to_string()));
  }
  int64_t reminded = 0;
  if (remind) {
    clock.advance_ns(static_cast<int64_t>((*remind + 1) * 1e9));
    auto swept = runner.sweep_approvals();
    if (!swept.ok()) return with_observed(r, swept.status().to_string());
    reminded = swept->reminded;
  }
  clock.advance_ns(static_cast<int64_t>((*expire + 1) * 1e9));
  auto worked = runner.work();
  if (!worked.ok()) return with_observed(r, worked.status().to_string());
  auto c = (*d)->journal().get_case("CASE-2");
  auto refunds =
      dynamic_cast<samples::OrderSystem*>((*d)->system_of_record())
          ? dynamic_cast<samples::OrderSystem*>((*d)->system_of_record())->ledger_for_case("CASE-2")
          : Result<samples::OrderSystem::LedgerCounts>(Status::not_found("no order system"));
  std::string decision;
  auto records = (*d)->journal().read("CASE-2");
  bool expired = false;
  if (records.ok()) {
    for (const auto& rec : *records) {
      if (rec.kind == agent::record::approval_denied) expired = rec.data.value("expired", false);
      if (rec.kind == agent::record::case_completed)
        decision = rec.data["result"].value("decision", "");
    }
  }
  r.observed =
      fmt::format("{} reminder(s) journaled; the request {}; the case {} ({}); refunds made: {}",
                  reminded, expired ? "expired and was denied" : "did not expire",
                  c.ok() ? std::string(agent::case_state_name(c->state)) : c.status().to_string(),
                  decision.empty() ? "no decision" : decision,
                  refunds.ok() ? std::to_string(refunds->refunds) : "?");
  r.passed = (!remind || reminded == 1) && expired && c.ok() &&
             c->state == agent::CaseState::completed && refunds.ok() && refunds->refunds == 0;
  return r;
}

FaultRun journal_corrupt(const std::string& work) {
  FaultRun r{"storage-corrupt", "a journal file of 8 KiB that is not a database", "", true, false};
  const std::string path = work + "/corrupt-journal.db";
  std::ofstream(path, std::ios::binary) << std::string(8192, 'x');
  auto j = agent::open_journal(path);
  r.observed = j.ok() ? std::string("the journal opened as if it were fine")
                      : "opening it was refused: " + j.status().to_string();
  r.passed = !j.ok() && j.status().code() == StatusCode::data_loss;
  return r;
}

FaultRun journal_disk_full(const contract::Spec& spec, const std::string& work) {
  if (geteuid() != 0) return not_run("disk-full", "mounting a small tmpfs needs root");
  FaultRun r{"disk-full", "the journal on a 4 MiB tmpfs filled to ENOSPC after 6 steps of CASE-1",
             "", true, false};
  const std::string mount_dir = work + "/journal-disk", state = work + "/journal-disk-state";
  fs::create_directories(mount_dir);
  fs::create_directories(state);
  ChildResult c = in_child([&] {
    if (Status m = mount_small_tmpfs(mount_dir, 4 << 20); !m.ok())
      return ChildResult{false, m.message()};
    agent::AgentDeploymentOptions options;
    options.catalog = &samples::sample_catalog();
    options.state_dir = state;
    options.journal = mount_dir + "/journal.db";
    options.runner.max_new_steps = 6;
    auto first = agent::AgentDeployment::open(spec, options);
    if (!first.ok()) return ChildResult{false, first.status().to_string()};
    auto paused = (*first)->runner().start("CASE-1", (*first)->default_workflow(),
                                           {{"case_id", "CASE-1"}}, (*first)->default_principal());
    if (!paused.ok() || !paused->paused) return ChildResult{false, "the first 6 steps did not run"};
    if (fill_disk(mount_dir) <= 0) return ChildResult{false, "could not fill the tmpfs"};
    auto full = (*first)->runner().resume("CASE-1");
    if (full.ok()) return ChildResult{false, "the case ran on a full disk: " + full->message};
    auto info = (*first)->journal().get_case("CASE-1");
    const bool not_failed = info.ok() && info->state == agent::CaseState::running;
    std::string integrity;
    const bool consistent = integrity_ok(options.journal, &integrity);
    first->reset();
    ::unlink((mount_dir + "/.filler").c_str());
    options.runner.max_new_steps = -1;
    auto second = agent::AgentDeployment::open(spec, options);
    if (!second.ok()) return ChildResult{false, second.status().to_string()};
    auto done = (*second)->runner().resume("CASE-1");
    auto l = ledger(state + "/orders.db", "CASE-1");
    const bool named = full.status().code() == StatusCode::resource_exhausted &&
                       full.status().message().find(options.journal) != std::string::npos;
    const bool completed = done.ok() && done->state == agent::CaseState::completed;
    return ChildResult{
        named && not_failed && consistent && completed && l.ok() && case1_exactly_once(*l),
        fmt::format(
            "the resume failed with {}; the case stayed {}; the journal {} its integrity check; "
            "after "
            "freeing space the case {}; ledger: {}",
            full.status().to_string(), info.ok() ? agent::case_state_name(info->state) : "?",
            consistent ? "passed" : "FAILED (" + integrity + ")",
            completed ? "completed" : (done.ok() ? done->message : done.status().to_string()),
            l.ok() ? describe(*l) : l.status().to_string())};
  });
  r.observed = c.message;
  r.passed = c.ok;
  return r;
}

std::vector<FaultRun> durable_agent_faults(const contract::Spec& spec, const std::string& spec_path,
                                           const std::string& work) {
  std::vector<FaultRun> out;
  // The forking injection first, while this process has no other thread (the in-process model
  // of approval_timeout starts a compute pool).
  out.push_back(journal_disk_full(spec, work));
  out.push_back(worker_kill(spec_path, work));
  out.push_back(tool_timeout(spec_path, work));
  out.push_back(journal_corrupt(work));
  out.push_back(approval_timeout(spec, work));
  return out;
}

// The spec at `spec_path`, when it loads and is a `scenario` spec; otherwise nullopt, after
// saying why on stderr.
std::optional<contract::Spec> load_eval_spec(const std::string& scenario,
                                             const std::string& spec_path) {
  auto spec = contract::load_spec(spec_path);
  if (!spec.ok()) {
    std::fprintf(stderr, "keel eval: %s (pass --spec)\n", spec.status().message().c_str());
    return std::nullopt;
  }
  if (contract::enum_name(spec->scenario) != scenario) {
    std::fprintf(stderr, "keel eval: %s is a %s spec, not %s\n", spec_path.c_str(),
                 std::string(contract::enum_name(spec->scenario)).c_str(), scenario.c_str());
    return std::nullopt;
  }
  return std::move(*spec);
}

// This command's injections for the spec's scenario, run in `work`; nullopt for a scenario it
// has none for, after saying so on stderr.
std::optional<std::vector<FaultRun>> run_injections(const contract::Spec& spec,
                                                    const std::string& spec_path,
                                                    const std::string& work) {
  if (spec.scenario == contract::ScenarioId::local_research) {
    return local_research_faults(spec, work);
  }
  if (spec.scenario == contract::ScenarioId::durable_agent) {
    return durable_agent_faults(spec, fs::absolute(spec_path).string(), work);
  }
  std::fprintf(stderr,
               "keel eval: --faults runs for local-research and durable-agent; `keel plan %s` "
               "lists which tests inject %s's faults\n",
               spec_path.c_str(), std::string(contract::enum_name(spec.scenario)).c_str());
  return std::nullopt;
}

// (fault, who injects it) for each fault the spec declares that no run here injected.
using FaultsElsewhere = std::vector<std::pair<std::string, std::string>>;

FaultsElsewhere faults_injected_elsewhere(const contract::Spec& spec,
                                          const std::vector<FaultRun>& runs) {
  FaultsElsewhere elsewhere;
  for (contract::Fault f : spec.failure.inject) {
    const std::string name(contract::enum_name(f));
    bool here = false;
    for (const auto& run : runs) here |= run.fault == name && run.ran;
    if (here) continue;
    std::vector<std::string> tests;
    for (const auto* row : contract::injections_for(f, spec.scenario))
      tests.emplace_back(row->test);
    elsewhere.emplace_back(name, tests.empty()
                                     ? std::string("not injected")
                                     : fmt::format("tested by {}", fmt::join(tests, "; ")));
  }
  return elsewhere;
}

struct FaultTally {
  int passed = 0, failed = 0, skipped = 0;
};

FaultTally tally(const std::vector<FaultRun>& runs) {
  FaultTally t;
  for (const auto& run : runs) {
    if (!run.ran) {
      ++t.skipped;
    } else {
      (run.passed ? t.passed : t.failed) += 1;
    }
  }
  return t;
}

void print_fault_report_json(const std::string& scenario, const std::string& spec_path,
                             const std::vector<FaultRun>& runs, const FaultsElsewhere& elsewhere,
                             const FaultTally& counts) {
  Json faults = Json::array();
  for (const auto& run : runs) {
    faults.push_back({{"fault", run.fault},
                      {"ran", run.ran},
                      {"injected", run.injected},
                      {"observed", one_line(run.observed)},
                      {"passed", run.ran && run.passed}});
  }
  Json other = Json::array();
  for (const auto& [fault, where] : elsewhere)
    other.push_back({{"fault", fault}, {"injection", where}});
  Json out = {{"scenario", scenario},
              {"spec", spec_path},
              {"faults", faults},
              {"passed", counts.passed},
              {"failed", counts.failed},
              {"not_run", counts.skipped},
              {"declared_not_run_here", other}};
  std::printf("%s\n", dump_json(out, 2).c_str());
}

void print_fault_report_text(const std::string& scenario, const std::vector<FaultRun>& runs,
                             const FaultsElsewhere& elsewhere, const FaultTally& counts) {
  TextTable t({"fault", "result", "injected", "what the runtime did"}, 60);
  for (const auto& run : runs) {
    t.add_row({run.fault,
               !run.ran     ? "not run"
               : run.passed ? "recovered"
                            : "FAILED",
               run.injected, one_line(run.observed)});
  }
  std::printf("%s faults: %d recovered, %d failed, %d not run\n%s", scenario.c_str(), counts.passed,
              counts.failed, counts.skipped, t.render().c_str());
  if (!elsewhere.empty()) {
    std::printf("\ndeclared in failure.inject, not run by this command:\n");
    for (const auto& [fault, where] : elsewhere)
      std::printf("  %s: %s\n", fault.c_str(), where.c_str());
  }
}

}  // namespace

int run_fault_eval(const std::string& scenario, const std::string& spec_arg, bool json) {
  const std::string spec_path =
      spec_arg.empty() ? bundled_example("examples/" + scenario + ".yaml") : spec_arg;
  const std::optional<contract::Spec> spec = load_eval_spec(scenario, spec_path);
  if (!spec) return 1;
  char dir[] = "/tmp/keel-faults-XXXXXX";
  if (!mkdtemp(dir)) {
    std::fprintf(stderr, "keel eval: cannot create a temporary folder\n");
    return 1;
  }
  const std::string work = dir;
  const std::optional<std::vector<FaultRun>> runs = run_injections(*spec, spec_path, work);
  std::error_code ec;
  fs::remove_all(work, ec);
  if (!runs) return 1;

  const FaultsElsewhere elsewhere = faults_injected_elsewhere(*spec, *runs);
  const FaultTally counts = tally(*runs);
  if (json) {
    print_fault_report_json(scenario, spec_path, *runs, elsewhere, counts);
  } else {
    print_fault_report_text(scenario, *runs, elsewhere, counts);
  }
  return counts.failed > 0 ? 2 : 0;
}

}  // namespace keel::app
