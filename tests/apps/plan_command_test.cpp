// `keel plan` end to end: the real binary on the examples, on the mistakes, on specs mutated
// here (mistakes the fixed files never showed it) and on malformed specs.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>

#include "core/json.h"
#include "support/test_support.h"

namespace keel {
namespace {

const char* kScenarios[] = {"local-research", "enterprise-rag", "browser-classifier",
                            "mobile-vision",  "llm-service",    "durable-agent",
                            "hybrid-field"};

std::string example(const std::string& scenario) {
  return testing::source_dir() + "/examples/" + scenario + ".yaml";
}

Json plan_json(const testing::CommandResult& r) {
  auto j = parse_json(r.out);
  EXPECT_TRUE(j.ok()) << r.out << r.err;
  return j.ok() ? *j : Json();
}

bool check_failed(const Json& plan, const std::string& id) {
  for (const auto& c : plan["checks"]) {
    if (c["id"] == id && c["status"] == "fail") return true;
  }
  return false;
}

TEST(PlanCommand, ExamplesAreAcceptedWithEveryKey) {
  for (const char* scenario : kScenarios) {
    auto r = testing::run_keel({"plan", example(scenario), "--json"});
    EXPECT_EQ(r.exit_code, 0) << scenario << "\n" << r.out << r.err;
    Json j = plan_json(r);
    for (const char* key : {"scenario", "topology", "execution_path", "controls", "metrics",
                            "failure_plan", "refuses_to_own", "checks"}) {
      EXPECT_TRUE(j.contains(key)) << scenario << " lacks " << key;
    }
    EXPECT_EQ(j["scenario"], scenario);
    auto text = testing::run_keel({"plan", example(scenario)});
    EXPECT_EQ(text.exit_code, 0);
    EXPECT_NE(text.out.find("ACCEPTED"), std::string::npos);
    EXPECT_NE(text.out.find("execution path"), std::string::npos);
  }
}

TEST(PlanCommand, MistakesExitTwoWithTheirCheck) {
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::source_dir() + "/examples/mistakes")) {
    std::string id = entry.path().filename().string().substr(0, 4);
    auto r = testing::run_keel({"plan", entry.path().string(), "--json"});
    EXPECT_EQ(r.exit_code, 2) << entry.path();
    EXPECT_TRUE(check_failed(plan_json(r), id)) << entry.path();
  }
}

// Mistakes applied to the accepted examples, in YAML, as a user would make them.
struct Mutation {
  std::string check;
  std::string description;
  std::function<bool(YAML::Node&)> apply;  // false: does not apply to this example
};

std::optional<YAML::Node> first_write_tool(YAML::Node& spec) {
  for (auto tool : spec["authority"]["tools"]) {
    if (tool["effect"].as<std::string>() != "read") return tool;
  }
  return std::nullopt;
}

bool needs_approval(const YAML::Node& spec) {
  for (const auto& tool : spec["authority"]["tools"]) {
    if (tool["approval"] && tool["approval"].as<std::string>() != "none") return true;
  }
  return false;
}

std::vector<Mutation> mutations() {
  return {
      {"K001", "write tool granted to a role nobody holds",
       [](YAML::Node& s) {
         auto t = first_write_tool(s);
         if (!t) return false;
         (*t)["roles"] = std::vector<std::string>{"nobody-has-this-role"};
         return true;
       }},
      {"K001", "new write tool without roles",
       [](YAML::Node& s) {
         YAML::Node tool;
         tool["name"] = "added_tool";
         tool["effect"] = "write";
         tool["idempotency"] = "required";
         s["authority"]["tools"].push_back(tool);
         s["authority"]["system_of_record"] = "sor";
         return true;
       }},
      {"K002", "approval removed from an irreversible tool",
       [](YAML::Node& s) {
         for (auto t : s["authority"]["tools"]) {
           if (t["effect"].as<std::string>() == "irreversible") {
             t["approval"] = "none";
             t.remove("condition");
             return true;
           }
         }
         return false;
       }},
      {"K003", "idempotency dropped from a write tool",
       [](YAML::Node& s) {
         auto t = first_write_tool(s);
         if (!t) return false;
         t->remove("idempotency");
         return true;
       }},
      {"K004", "central telemetry",
       [](YAML::Node& s) {
         YAML::Node t;
         t["sink"] = "otlp";
         t["endpoint"] = "https://collector.saas-vendor.example:4317";
         s["deployment"]["telemetry"] = t;
         if (!s["deployment"]["egress"].IsScalar()) {
           std::vector<std::string> classes = {"confidential"};
           s["data"]["classes"] = classes;
         }
         return true;
       }},
      {"K005", "memory written to nothing",
       [](YAML::Node& s) {
         s["authority"]["memory"]["writes"] = "explicit";
         s["authority"]["memory"]["store"] = YAML::Node(YAML::NodeType::Null);
         return true;
       }},
      {"K005", "memory written to a cache",
       [](YAML::Node& s) {
         YAML::Node cache;
         cache["id"] = "hot-cache";
         cache["kind"] = "cache";
         s["components"].push_back(cache);
         s["authority"]["memory"]["writes"] = "explicit";
         s["authority"]["memory"]["store"] = "hot-cache";
         return true;
       }},
      {"K006", "failure injection removed",
       [](YAML::Node& s) {
         s["failure"].remove("inject");
         return true;
       }},
      {"K007", "system of record removed",
       [](YAML::Node& s) {
         if (!first_write_tool(s)) return false;
         s["authority"]["system_of_record"] = YAML::Node(YAML::NodeType::Null);
         return true;
       }},
      {"K008", "remote fallback turned on",
       [](YAML::Node& s) {
         if (s["deployment"]["egress"].IsScalar()) {
           // A page's opt-in fallback reaches its own origin only; enabled asks nobody.
           s["deployment"]["remote_fallback"] =
               s["deployment"]["target"].as<std::string>() == "browser" ? "enabled" : "opt-in";
         } else {
           s["data"]["classes"] = std::vector<std::string>{"restricted"};
           s["deployment"]["remote_fallback"] = "enabled";
         }
         return true;
       }},
      {"K009", "model file renamed away",
       [](YAML::Node& s) {
         for (auto m : s["deployment"]["models"]) {
           if (m["path"]) {
             m["path"] = "../models/renamed-away.gguf";
             return true;
           }
         }
         return false;
       }},
      {"K010", "latency objective as a bare number",
       [](YAML::Node& s) {
         for (const char* key : {"ttft_ms", "latency_ms", "e2e_ms"}) {
           if (s["slo"][key]) {
             s["slo"][key] = 250;
             return true;
           }
         }
         return false;
       }},
      {"K010", "workload removed",
       [](YAML::Node& s) {
         s["slo"].remove("workload");
         return true;
       }},
      {"K017", "the approver role taken from every principal",
       [](YAML::Node& s) {
         if (!needs_approval(s)) return false;
         for (auto p : s["authority"]["principals"]) {
           std::vector<std::string> roles;
           for (const auto& r : p["roles"]) {
             if (r.as<std::string>() != "approver") roles.push_back(r.as<std::string>());
           }
           p["roles"] = roles;
         }
         return true;
       }},
      {"K017", "approvers' keys removed (unsigned approvals refused)",
       [](YAML::Node& s) {
         if (!needs_approval(s)) return false;
         for (auto p : s["authority"]["principals"]) p.remove("public_key");
         return true;
       }},
      {"K018", "private data served on every interface",
       [](YAML::Node& s) {
         bool sensitive = false;
         for (const auto& c : s["data"]["classes"]) {
           sensitive |=
               c.as<std::string>() == "confidential" || c.as<std::string>() == "restricted";
         }
         if (!sensitive || !s["deployment"]["egress"].IsScalar() || !s["data"]["sources"] ||
             s["data"]["sources"].size() == 0) {
           return false;
         }
         s["serving"]["host"] = "0.0.0.0";
         return true;
       }},
      {"K011", "fail-open route for confidential data",
       [](YAML::Node& s) {
         s["data"]["classes"] = std::vector<std::string>{"internal", "confidential"};
         s["failure"]["on_route_unavailable"] = "fail-open";
         return true;
       }},
  };
}

TEST(PlanCommand, MutatedExamplesAreRefusedByTheRightCheck) {
  testing::TempDir dir;
  int refused = 0;
  for (const char* scenario : kScenarios) {
    for (const auto& m : mutations()) {
      YAML::Node spec = YAML::LoadFile(example(scenario));
      if (!m.apply(spec)) continue;
      YAML::Emitter out;
      out << spec;
      // Written beside the original so relative paths (models, data) still resolve.
      std::string path = testing::source_dir() + "/examples/.mutated-" + scenario + ".yaml";
      testing::write_file(path, out.c_str());
      auto r = testing::run_keel({"plan", path, "--json"});
      std::filesystem::remove(path);
      SCOPED_TRACE(std::string(scenario) + ": " + m.description);
      ASSERT_EQ(r.exit_code, 2) << r.out << r.err;
      EXPECT_TRUE(check_failed(plan_json(r), m.check)) << r.out;
      ++refused;
    }
  }
  EXPECT_GT(refused, 60);
}

TEST(PlanCommand, MalformedSpecExitsOneWithPathAndLine) {
  testing::TempDir dir;
  std::string yaml = testing::read_file(example("durable-agent"));
  size_t pos = yaml.find("effect: irreversible");
  ASSERT_NE(pos, std::string::npos);
  int line = 1 + static_cast<int>(std::count(yaml.begin(), yaml.begin() + pos, '\n'));
  // The refused tool's index: the tools listed before it, one `effect:` each.
  size_t tool_index = 0;
  for (size_t at = yaml.find("effect:"); at < pos; at = yaml.find("effect:", at + 1)) ++tool_index;
  yaml.replace(pos, 20, "effect: delete");
  testing::write_file(dir.file("bad.yaml"), yaml);
  auto r = testing::run_keel({"plan", dir.file("bad.yaml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("authority.tools[" + std::to_string(tool_index) +
                       "].effect: expected one of read|write|irreversible, got 'delete' (line " +
                       std::to_string(line) + ")"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty());

  testing::write_file(dir.file("typo.yaml"), "keel: 1\nname: x\nscenario: local-research\n"
                                              "data: {classes: [public]}\n"
                                              "deployment: {target: desktop, egress: none}\n"
                                              "falure: {inject: [overload]}\n");
  r = testing::run_keel({"plan", dir.file("typo.yaml"), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("falure: unknown key; did you mean 'failure'?"), std::string::npos) << r.err;
  Json j = plan_json(r);
  EXPECT_EQ(j["errors"][0]["line"], 6);

  r = testing::run_keel({"plan", dir.file("missing.yaml")});
  EXPECT_EQ(r.exit_code, 1);
  testing::write_file(dir.file("binary.yaml"), std::string("\x00\x01\xff\xfe", 4));
  r = testing::run_keel({"plan", dir.file("binary.yaml")});
  EXPECT_EQ(r.exit_code, 1);
}

TEST(KeelCommand, HelpListsSubcommandsAndVersionPrints) {
  auto help = testing::run_keel({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* sub : {"plan", "checks", "version"}) {
    EXPECT_NE(help.out.find(sub), std::string::npos) << sub;
  }
  auto version = testing::run_keel({"version", "--json"});
  EXPECT_EQ(version.exit_code, 0);
  auto j = parse_json(version.out);
  ASSERT_TRUE(j.ok());
  EXPECT_FALSE((*j)["version"].get<std::string>().empty());
  EXPECT_NE(testing::run_keel({"no-such-command"}).exit_code, 0);
  auto checks = testing::run_keel({"checks"});
  EXPECT_NE(checks.out.find("K011"), std::string::npos);
}

}  // namespace
}  // namespace keel
