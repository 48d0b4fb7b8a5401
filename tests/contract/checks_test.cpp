#include "contract/checks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "contract/model_record.h"
#include "contract/spec_parser.h"
#include "core/hash.h"
#include "support/test_support.h"

namespace keel::contract {
namespace {

//! The errors of a parse (none when it succeeded).
[[maybe_unused]] SpecErrors errors_of(const ParsedSpec& p) { return p.ok() ? SpecErrors{} : p.error(); }

Spec parse_ok(const std::string& yaml, const std::string& base_dir = ".") {
  ParsedSpec p = parse_spec_text(yaml, base_dir);
  if (!p.ok()) {
    std::string all;
    for (const auto& e : errors_of(p)) all += e.to_string() + "\n";
    ADD_FAILURE() << all;
    return Spec{};
  }
  return *p;
}

std::vector<CheckResult> failures(const std::vector<CheckResult>& results, const std::string& id) {
  std::vector<CheckResult> out;
  for (const auto& r : results) {
    if (r.id == id && r.status == CheckStatus::fail) out.push_back(r);
  }
  return out;
}

std::string statuses(const std::vector<CheckResult>& results) {
  std::string out;
  for (const auto& r : results) {
    if (r.status != CheckStatus::pass) {
      out += r.id + " " + std::string(check_status_name(r.status)) + " " + r.spec_path + ": " +
             r.message + "\n";
    }
  }
  return out;
}

TEST(Checks, CatalogIsOrderedAndComplete) {
  std::set<std::string> ids;
  std::string previous;
  for (const auto& c : check_catalog()) {
    EXPECT_GT(std::string(c.id), previous);
    previous = c.id;
    ids.insert(std::string(c.id));
  }
  for (int i = 1; i <= 11; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "K%03d", i);
    EXPECT_TRUE(ids.count(id)) << id;
  }
}

TEST(Checks, EveryCheckReportsOnAGoodSpec) {
  Spec s = parse_ok(R"(keel: 1
name: ok
scenario: llm-service
data: {classes: [internal]}
slo: {ttft_ms: {p95: 500}, workload: {rps: 1}}
deployment: {target: cluster, egress: none}
failure: {inject: [overload]}
)");
  auto results = run_checks(s);
  EXPECT_FALSE(any_failed(results)) << statuses(results);
  std::set<std::string> reported;
  for (const auto& r : results) reported.insert(r.id);
  EXPECT_EQ(reported.size(), check_catalog().size());
}

// Every result points at the line that holds the key its path names (or, for a key left to its
// default, the nearest key the file writes), passing results included.
TEST(Checks, ResultsPointAtTheLineOfTheirKey) {
  Spec s = parse_ok(R"(keel: 1
name: lines
scenario: local-research
data:
  classes: [confidential]
  sources:
    - {id: docs, kind: folder, path: docs, access: read-only}
authority:
  principals:
    - {id: owner, roles: [reader]}
  tools:
    - {name: search_documents, effect: read, roles: [reader]}
deployment:
  target: desktop
  egress: none
  telemetry: {sink: local}
  models:
    - {id: main, path: m.gguf, role: generate}
failure:
  on_route_unavailable: fail-closed
  inject: [egress-attempt]
)");
  std::map<std::string, std::pair<std::string, int>> at;
  for (const auto& r : run_checks(s)) at[r.id] = {r.spec_path, r.line};
  EXPECT_EQ(at["K001"], std::make_pair(std::string("authority.tools"), 11));
  EXPECT_EQ(at["K004"], std::make_pair(std::string("deployment.telemetry"), 16));
  EXPECT_EQ(at["K006"], std::make_pair(std::string("failure.inject"), 21));
  EXPECT_EQ(at["K011"], std::make_pair(std::string("failure.on_route_unavailable"), 20));
  EXPECT_EQ(at["K013"].second, 17);  // deployment.models
  // remote_fallback is left to its default: the nearest written key is `deployment:`, but the
  // section's own line is more specific than nothing; never a line before the section.
  EXPECT_GE(at["K008"].second, 13);
  EXPECT_LE(at["K008"].second, 14);
  EXPECT_EQ(s.locate("authority.tools[0].roles").line, 12);  // the item writes it
  EXPECT_EQ(s.locate("authority.tools[0].approval").line, 11);  // left out: its list
  EXPECT_EQ(s.locate("nowhere.at.all", 7).line, 7);
  EXPECT_EQ(at["K010"].second, 0);  // no slo section: no line to point at
}

// Each refused spec in examples/mistakes is named after the check it must trip.
TEST(Checks, EachMistakeSpecIsRefusedByItsCheck) {
  int seen = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::source_dir() + "/examples/mistakes")) {
    std::string file = entry.path().filename().string();
    std::string id = file.substr(0, 4);
    ParsedSpec p = parse_spec_file(entry.path().string());
    ASSERT_TRUE(p.ok()) << file;
    auto results = run_checks(*p);
    EXPECT_FALSE(failures(results, id).empty()) << file << "\n" << statuses(results);
    for (const auto& r : results) {
      if (r.status == CheckStatus::fail) {
        EXPECT_EQ(r.id, id) << file << " also fails " << r.id;
      }
    }
    ++seen;
  }
  EXPECT_GE(seen, 11);
}

TEST(Checks, K009ReadsTheCompatibilityRecord) {
  testing::TempDir dir;
  testing::write_file(dir.file("m.gguf"), "GGUF fake bytes");
  std::string yaml = R"(keel: 1
name: k9
scenario: local-research
data: {classes: [internal]}
slo: {ttft_ms: {p95: 500}, workload: {rps: 1}}
deployment:
  target: desktop
  egress: none
  models: [{id: m, path: m.gguf, role: generate}]
failure: {inject: [model-unfit]}
)";
  auto k009 = [&]() {
    for (const auto& r : run_checks(parse_ok(yaml, dir.path()))) {
      if (r.id == "K009") return r;
    }
    return CheckResult{};
  };
  EXPECT_EQ(k009().status, CheckStatus::warn);  // no record yet
  EXPECT_NE(k009().message.find("keel check-model"), std::string::npos);

  auto stamp = stat_file(dir.file("m.gguf"));
  ASSERT_TRUE(stamp.ok());
  ModelRecord record;
  record.file = "m.gguf";
  record.file_size = stamp->size;
  record.file_mtime_ns = stamp->mtime_ns + 1;  // as after a fresh checkout: only the hash agrees
  record.sha256 = to_hex(*sha256_file(dir.file("m.gguf")));
  record.engine_version = "test";
  record.self_test_passed = true;
  ASSERT_TRUE(write_model_record(dir.file("m.gguf"), record).ok());
  EXPECT_EQ(k009().status, CheckStatus::pass) << k009().message;

  testing::write_file(dir.file("m.gguf"), "GGUF fakf bytes");  // same size, new content
  EXPECT_EQ(k009().status, CheckStatus::warn);
  EXPECT_NE(k009().message.find("changed"), std::string::npos);

  record.self_test_passed = false;
  record.self_test_detail = "logits were NaN";
  record.sha256 = to_hex(*sha256_file(dir.file("m.gguf")));
  ASSERT_TRUE(write_model_record(dir.file("m.gguf"), record).ok());
  EXPECT_EQ(k009().status, CheckStatus::fail);

  testing::write_file(model_record_path(dir.file("m.gguf")), "{not json");
  EXPECT_EQ(k009().status, CheckStatus::warn);
  EXPECT_NE(k009().message.find("unreadable"), std::string::npos);

  std::filesystem::remove(dir.file("m.gguf"));
  EXPECT_EQ(k009().status, CheckStatus::fail);
}

TEST(Checks, K004AllowsTelemetryInsideTheAllowList) {
  Spec s = parse_ok(R"(keel: 1
name: t
scenario: enterprise-rag
data: {classes: [restricted]}
slo: {ttft_ms: {p95: 500}, workload: {rps: 1}}
deployment:
  target: cluster
  egress: {allow: ["otel.corp.example:4317"]}
  telemetry: {sink: otlp, endpoint: "https://otel.corp.example:4317"}
failure: {inject: [db-stop]}
)");
  EXPECT_TRUE(failures(run_checks(s), "K004").empty());
}

// Explicit memory writes with no store: K005 fails, and every check's message is built without
// reading the store that is not there (this once dereferenced an empty optional).
TEST(Checks, K005RefusesMemoryWritesWithoutAStore) {
  Spec s = parse_ok(R"(keel: 1
name: t
scenario: enterprise-rag
data: {classes: [internal]}
authority: {memory: {writes: explicit, store: null}}
slo: {ttft_ms: {p95: 500}, workload: {rps: 1}}
deployment: {target: cluster, egress: none}
failure: {inject: [db-stop]}
)");
  auto k005 = failures(run_checks(s), "K005");
  ASSERT_EQ(k005.size(), 1u) << statuses(run_checks(s));
  EXPECT_NE(k005[0].message.find("no store is named"), std::string::npos);
}

// A routed task's class and a consent class must be classes the spec declares.
TEST(Checks, K013RefusesARoutedTaskOrConsentOfAnUndeclaredClass) {
  const std::string spec = R"(keel: 1
name: t
scenario: hybrid-field
data: {classes: [internal]}
deployment:
  target: field
  egress: none
  models:
    - {id: llm, path: m.gguf, role: generate, capabilities: [generate], estimate_ms: 900}
routing:
  consent: [CONSENT]
  tasks:
    lookup: {class: TASK}
)";
  auto with = [&](const std::string& consent, const std::string& task) {
    std::string text = spec;
    text.replace(text.find("CONSENT"), 7, consent);
    text.replace(text.find("TASK"), 4, task);
    return text;
  };
  Spec ok = parse_ok(with("internal", "internal"));
  EXPECT_EQ(ok.deployment.models[0].capabilities, std::vector<std::string>{"generate"});
  EXPECT_EQ(ok.deployment.models[0].estimate_ms, 900);
  EXPECT_TRUE(failures(run_checks(ok), "K013").empty()) << statuses(run_checks(ok));
  auto k013 = failures(run_checks(parse_ok(with("restricted", "confidential"))), "K013");
  ASSERT_EQ(k013.size(), 2u);
  EXPECT_NE(k013[0].message.find("task 'lookup' reads class 'confidential'"), std::string::npos) << k013[0].message;
  EXPECT_NE(k013[1].message.find("consent names class 'restricted'"), std::string::npos) << k013[1].message;
}

// A model's approved classes must be classes the spec declares; the parser refuses a name that
// is no data class at all.
TEST(Checks, K013RefusesAModelApprovedForAnUndeclaredClass) {
  const std::string spec = R"(keel: 1
name: t
scenario: enterprise-rag
data: {classes: [internal]}
slo: {ttft_ms: {p95: 500}, workload: {rps: 1}}
deployment:
  target: cluster
  egress: none
  models:
    - {id: llm, path: m.gguf, role: generate, classes: CLASSES}
failure: {inject: [db-stop]}
)";
  auto with = [&](const std::string& classes) {
    std::string text = spec;
    text.replace(text.find("CLASSES"), 7, classes);
    return text;
  };
  Spec ok = parse_ok(with("[internal]"));
  ASSERT_EQ(ok.deployment.models.size(), 1u);
  EXPECT_TRUE(ok.deployment.models[0].approved_for(DataClass::internal));
  EXPECT_FALSE(ok.deployment.models[0].approved_for(DataClass::confidential));
  EXPECT_TRUE(failures(run_checks(ok), "K013").empty()) << statuses(run_checks(ok));

  Spec undeclared = parse_ok(with("[internal, restricted]"));
  auto k013 = failures(run_checks(undeclared), "K013");
  ASSERT_EQ(k013.size(), 1u) << statuses(run_checks(undeclared));
  EXPECT_EQ(k013[0].spec_path, "deployment.models[0].classes[1]");
  EXPECT_NE(k013[0].message.find("approved for class 'restricted', which data.classes does not declare"),
            std::string::npos);

  ParsedSpec unknown = parse_spec_text(with("[secret]"), ".");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(errors_of(unknown)[0].to_string().find("deployment.models[0].classes[0]"), std::string::npos)
      << errors_of(unknown)[0].to_string();
  EXPECT_FALSE(parse_spec_text(with("[]"), ".").ok());
}

TEST(Checks, K010NamesEveryBadObjective) {
  Spec s = parse_ok(R"(keel: 1
name: t
scenario: llm-service
data: {classes: [internal]}
slo: {ttft_ms: 500, tpot_ms: {mean: 40}, e2e_ms: {p99: 9000}, workload: {prompt_tokens: {p50: 10}}}
deployment: {target: cluster, egress: none}
failure: {inject: [overload]}
)");
  auto f = failures(run_checks(s), "K010");
  std::set<std::string> paths;
  for (const auto& r : f) paths.insert(r.spec_path);
  EXPECT_EQ(paths, (std::set<std::string>{"slo.ttft_ms", "slo.tpot_ms", "slo.workload"}));
}

// A durable-agent spec with one approval-requiring tool; `principals` and `extra` vary.
std::string approval_spec(const std::string& principals, const std::string& extra = "",
                          const std::string& tool_extra = "") {
  return R"(keel: 1
name: t
scenario: durable-agent
data: {classes: [confidential]}
authority:
  principals:
)" + principals +
         R"(
  tools:
    - {name: refund, effect: irreversible, idempotency: required, approval: always, roles: [clerk])" +
         tool_extra + R"(}
    - {name: lookup, effect: read, roles: [clerk]}
  system_of_record: orders
)" + extra +
         R"(slo: {e2e_ms: {p95: 60000}, workload: {rps: 1}}
deployment: {target: workflow, egress: none}
failure: {inject: [worker-kill]}
components: [{id: orders, kind: sqlite, path: orders.db}]
)";
}

const std::string kSomeKey = "ed25519:" + std::string(64, 'b');

TEST(Checks, K017RefusesAnApprovalNobodyMayGive) {
  const std::string agent = "    - {id: agent, roles: [clerk]}\n";
  const std::string keyed_boss =
      "    - {id: boss, roles: [approver], public_key: \"" + kSomeKey + "\"}";
  const std::string keyless_boss = "    - {id: boss, roles: [approver]}";
  // Nobody holds the approver role.
  auto none = run_checks(parse_ok(approval_spec("    - {id: agent, roles: [clerk]}")));
  auto f = failures(none, "K017");
  ASSERT_EQ(f.size(), 1u) << statuses(none);
  EXPECT_EQ(f[0].spec_path, "authority.tools[0].approval");
  EXPECT_NE(f[0].message.find("no principal holds one"), std::string::npos) << f[0].message;
  // An approver, but without a key, and unsigned approvals are refused (the default).
  auto keyless = run_checks(parse_ok(approval_spec(agent + keyless_boss)));
  f = failures(keyless, "K017");
  ASSERT_EQ(f.size(), 1u) << statuses(keyless);
  EXPECT_EQ(f[0].spec_path, "authority.principals[1].public_key");
  EXPECT_NE(f[0].message.find("keel agent keygen --principal boss"), std::string::npos)
      << f[0].message;
  // The tool's own approver roles count, not the default.
  auto wrong_role =
      run_checks(parse_ok(approval_spec(agent + keyed_boss, "", ", approver_roles: [finance]")));
  f = failures(wrong_role, "K017");
  ASSERT_EQ(f.size(), 1u) << statuses(wrong_role);
  EXPECT_EQ(f[0].spec_path, "authority.tools[0].approver_roles");
  EXPECT_NE(f[0].message.find("[finance]"), std::string::npos) << f[0].message;
  // Accepted: an approver with a key, or an approver without one where the spec consents.
  auto keyed = run_checks(parse_ok(approval_spec(agent + keyed_boss)));
  EXPECT_TRUE(failures(keyed, "K017").empty()) << statuses(keyed);
  auto consented =
      run_checks(parse_ok(approval_spec(agent + keyless_boss, "  unsigned_approvals: allowed\n")));
  EXPECT_TRUE(failures(consented, "K017").empty()) << statuses(consented);
}

// A service over confidential documents; `serving` and `deployment_extra` vary.
std::string exposed_spec(const std::string& host, const std::string& deployment_extra = "",
                         const std::string& classes = "[confidential]") {
  return R"(keel: 1
name: t
scenario: llm-service
data:
  classes: )" +
         classes + R"(
  sources: [{id: docs, kind: folder, path: docs}]
slo: {ttft_ms: {p95: 500}, workload: {rps: 1}}
deployment:
  target: cluster
  egress: none
)" + deployment_extra +
         R"(serving: {host: ")" + host + R"(", port: 8080}
failure: {inject: [overload]}
)";
}

TEST(Checks, K018RefusesPrivateDataServedBeyondLoopback) {
  auto open = run_checks(parse_ok(exposed_spec("0.0.0.0")));
  auto f = failures(open, "K018");
  ASSERT_EQ(f.size(), 1u) << statuses(open);
  EXPECT_EQ(f[0].spec_path, "serving.host");
  EXPECT_NE(f[0].message.find("deployment.remote_readers: allowed"), std::string::npos)
      << f[0].message;
  EXPECT_EQ(failures(run_checks(parse_ok(exposed_spec("10.1.2.3"))), "K018").size(), 1u);
  for (const char* loopback : {"127.0.0.1", "127.8.8.8", "::1", "localhost"}) {
    EXPECT_TRUE(failures(run_checks(parse_ok(exposed_spec(loopback))), "K018").empty()) << loopback;
  }
  EXPECT_TRUE(
      failures(run_checks(parse_ok(exposed_spec("0.0.0.0", "  remote_readers: allowed\n"))), "K018")
          .empty());
  EXPECT_TRUE(
      failures(run_checks(parse_ok(exposed_spec("0.0.0.0", "", "[internal]"))), "K018").empty());
}

TEST(Checks, K018AtStartUpJudgesTheAddressAListenerReallyUses) {
  // The spec itself serves on loopback (accepted by `keel plan`); the command line asks for more.
  Spec s = parse_ok(exposed_spec("127.0.0.1"));
  EXPECT_FALSE(any_failed(run_checks(s))) << statuses(run_checks(s));
  auto refused = check_listener_exposure(s, "keel mcp serve --http", "0.0.0.0");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->id, "K018");
  EXPECT_EQ(refused->status, CheckStatus::fail);
  EXPECT_EQ(refused->spec_path, "deployment.remote_readers");
  EXPECT_NE(refused->message.find("keel mcp serve --http listens on 0.0.0.0"), std::string::npos)
      << refused->message;
  EXPECT_TRUE(check_listener_exposure(s, "keel mcp serve --http", "::"));
  EXPECT_FALSE(check_listener_exposure(s, "keel mcp serve --http", "127.0.0.1"));
  EXPECT_FALSE(check_listener_exposure(
      parse_ok(exposed_spec("127.0.0.1", "  remote_readers: allowed\n")), "x", "0.0.0.0"));
  // The example research assistant: confidential documents under egress: none.
  auto research = load_spec(testing::source_dir() + "/examples/local-research.yaml");
  ASSERT_TRUE(research.ok());
  EXPECT_TRUE(check_listener_exposure(*research, "keel mcp serve --http", "0.0.0.0"));
}

TEST(Checks, ComponentDurability) {
  Component cache{{}, "c", ComponentKind::cache, "", "", true};
  EXPECT_FALSE(cache.is_durable());  // a cache stays a cache
  Component db{{}, "d", ComponentKind::sqlite, "", "", std::nullopt};
  EXPECT_TRUE(db.is_durable());
  db.durable = false;
  EXPECT_FALSE(db.is_durable());
}

}  // namespace
}  // namespace keel::contract
