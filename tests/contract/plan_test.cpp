#include "contract/plan.h"

#include <gtest/gtest.h>

#include <set>

#include "contract/plan_render.h"
#include "contract/spec_parser.h"
#include "core/json.h"
#include "support/test_support.h"

namespace keel::contract {
namespace {

const char* kScenarios[] = {"local-research", "enterprise-rag", "browser-classifier",
                            "mobile-vision",  "llm-service",    "durable-agent",
                            "hybrid-field"};

Plan plan_for(const std::string& scenario) {
  auto spec = load_spec(testing::source_dir() + "/examples/" + scenario + ".yaml");
  EXPECT_TRUE(spec.ok()) << spec.status().to_string();
  return build_plan(*spec, run_checks(*spec));
}

std::set<std::string> metric_names(const Plan& p) {
  std::set<std::string> out;
  for (const auto& m : p.metrics) out.insert(m.name);
  return out;
}

bool has_control(const Plan& p, const std::string& id) {
  for (const auto& c : p.controls) {
    if (c.id == id) return true;
  }
  return false;
}

TEST(Plan, EveryExampleIsAcceptedAndInternallyConsistent) {
  for (const char* scenario : kScenarios) {
    SCOPED_TRACE(scenario);
    Plan p = plan_for(scenario);
    EXPECT_EQ(p.scenario, scenario);
    for (const auto& c : p.checks) {
      EXPECT_NE(c.status, CheckStatus::fail) << c.id << ": " << c.message;
    }
    EXPECT_TRUE(p.accepted);
    std::set<std::string> components, controls;
    for (const auto& c : p.components) {
      EXPECT_TRUE(components.insert(c.id).second) << "duplicate component " << c.id;
      EXPECT_FALSE(c.kind.empty() || c.runs_on.empty() || c.trust_zone.empty()) << c.id;
    }
    for (const auto& c : p.controls) {
      EXPECT_TRUE(controls.insert(c.id).second) << "duplicate control " << c.id;
      EXPECT_FALSE(c.kind.empty() || c.enforced_by.empty() || c.spec_path.empty()) << c.id;
    }
    for (const auto& l : p.links) {
      EXPECT_TRUE(components.count(l.from)) << l.id;
      EXPECT_TRUE(components.count(l.to)) << l.id;
    }
    ASSERT_GE(p.execution_path.size(), 4u);
    for (const auto& s : p.execution_path) {
      EXPECT_TRUE(components.count(s.component)) << s.id << " runs on unknown " << s.component;
      for (const auto& c : s.controls) EXPECT_TRUE(controls.count(c)) << s.id << " names " << c;
    }
    EXPECT_FALSE(p.metrics.empty());
    EXPECT_FALSE(p.refuses_to_own.empty());
    std::set<std::string> faults;
    for (const auto& f : p.failure_plan) {
      faults.insert(f.fault);
      EXPECT_FALSE(f.detection.empty() || f.response.empty() || f.recovery.empty() ||
                   f.evidence.empty())
          << f.fault;
    }
    auto spec = load_spec(testing::source_dir() + "/examples/" + std::string(scenario) + ".yaml");
    for (Fault f : spec->failure.inject) EXPECT_TRUE(faults.count(std::string(enum_name(f))));
  }
}

// What DESIGN.md says each scenario must measure, as metric names.
TEST(Plan, EachScenarioMeasuresWhatDesignRequires) {
  std::map<std::string, std::vector<std::string>> required = {
      {"local-research",
       {"keel_model_load_seconds", "keel_time_to_first_token_seconds",
        "keel_time_per_output_token_seconds", "keel_rss_peak_bytes",
        "keel_citation_validity_ratio", "keel_index_stale_documents",
        "keel_outbound_bytes_total"}},
      // Built: what keel rag serve exports. Answer evaluation is `keel eval enterprise-rag`, and
      // no token cost exists while no model composes answers (the plan says so in its path).
      {"enterprise-rag",
       {"keel_answers_with_provenance_ratio", "keel_policy_denials_total",
        "keel_semantic_metric_requests_total", "keel_e2e_request_seconds", "keel_answers_total"}},
      // Built: what keel web serve exports from the pages' reports and its own work.
      {"browser-classifier",
       {"keel_web_browser_bytes_fetched_total", "keel_web_browser_sessions_total",
        "keel_web_browser_init_seconds", "keel_web_browser_classify_seconds", "keel_web_browser_heap_bytes",
        "keel_web_browser_fallbacks_total", "keel_web_browser_long_tasks_total"}},
      {"mobile-vision",
       {"keel_delegate_coverage_ratio", "keel_inference_seconds", "keel_energy_proxy_joules_total",
        "keel_thermal_state", "keel_rss_peak_bytes", "keel_model_updates_total",
        "keel_quality_agreement_ratio"}},
      {"llm-service",
       {"keel_requests_waiting", "keel_time_to_first_token_seconds",
        "keel_time_per_output_token_seconds", "keel_goodput_ratio",
        "keel_prefix_cache_hit_tokens_total", "keel_prefill_tokens_avoided_total",
        "keel_kv_blocks_used_ratio", "keel_requests_total"}},
      {"durable-agent",
       {"keel_agent_cases_total", "keel_agent_case_seconds", "keel_agent_steps_total",
        "keel_agent_tool_retries_total", "keel_agent_duplicates_prevented_total",
        "keel_agent_approvals_total", "keel_agent_policy_denials_total",
        "keel_agent_model_seconds_total", "keel_agent_replays_total"}},
      {"hybrid-field",
       {"keel_route_decisions_total", "keel_route_fallbacks_total", "keel_offline_success_ratio",
        "keel_sync_conflicts_total", "keel_sync_duplicates_prevented_total",
        "keel_request_seconds", "keel_model_version_parity"}},
  };
  for (const auto& [scenario, names] : required) {
    auto have = metric_names(plan_for(scenario));
    for (const auto& n : names) EXPECT_TRUE(have.count(n)) << scenario << " lacks " << n;
  }
}

TEST(Plan, ScenarioControlsFollowTheSpec) {
  Plan local = plan_for("local-research");
  EXPECT_TRUE(has_control(local, "egress-none"));
  EXPECT_TRUE(has_control(local, "read-only:docs"));
  EXPECT_TRUE(has_control(local, "citation-validity"));
  EXPECT_EQ(local.execution_path.front().id, "guard");  // the guard comes before any model

  Plan agent = plan_for("durable-agent");
  EXPECT_TRUE(has_control(agent, "approval:issue_refund"));
  EXPECT_TRUE(has_control(agent, "idempotency:issue_refund"));
  EXPECT_TRUE(has_control(agent, "outcome-check:issue_refund"));
  EXPECT_FALSE(has_control(agent, "approval:lookup_order"));
  EXPECT_TRUE(has_control(agent, "memory-explicit"));

  Plan service = plan_for("llm-service");
  EXPECT_TRUE(has_control(service, "admission"));
  EXPECT_TRUE(has_control(service, "gateway-auth"));

  Plan browser = plan_for("browser-classifier");
  EXPECT_TRUE(has_control(browser, "non-ai-fallback"));
  bool csp = false;
  for (const auto& c : browser.controls) csp |= c.enforced_by.find("Content-Security-Policy") != std::string::npos;
  EXPECT_TRUE(csp);

  Plan field = plan_for("hybrid-field");
  EXPECT_TRUE(has_control(field, "route-fail-closed"));
  bool remote_model = false;
  for (const auto& c : field.components) remote_model |= c.trust_zone == "private-cloud" && c.kind == "model";
  EXPECT_TRUE(remote_model);
}

TEST(Plan, ScenariosHaveDistinctTopologies) {
  std::set<std::set<std::string>> topologies;
  for (const char* scenario : kScenarios) {
    std::set<std::string> kinds;
    for (const auto& c : plan_for(scenario).components) kinds.insert(c.kind + "@" + c.runs_on);
    topologies.insert(kinds);
  }
  EXPECT_EQ(topologies.size(), std::size(kScenarios));
}

TEST(Plan, JsonHasEveryKeyAndTextPutsFailuresFirst) {
  Plan p = plan_for("local-research");
  auto j = parse_json(render_plan_json(p));
  ASSERT_TRUE(j.ok());
  for (const char* key : {"scenario", "topology", "execution_path", "controls", "metrics",
                          "failure_plan", "refuses_to_own", "checks"}) {
    EXPECT_TRUE(j->contains(key)) << key;
  }
  EXPECT_TRUE((*j)["topology"].contains("components"));
  EXPECT_TRUE((*j)["topology"].contains("links"));
  for (const auto& c : (*j)["topology"]["components"]) {
    for (const char* key : {"id", "kind", "runs_on", "trust_zone"}) EXPECT_TRUE(c.contains(key));
  }
  for (const auto& c : (*j)["checks"]) {
    for (const char* key : {"id", "status", "message", "spec_path"}) EXPECT_TRUE(c.contains(key));
  }

  ParsedSpec bad = parse_spec_file(testing::source_dir() +
                                   "/examples/mistakes/K002-irreversible-without-approval.yaml");
  ASSERT_TRUE(bad.ok());
  Plan refused = build_plan(*bad, run_checks(*bad));
  EXPECT_FALSE(refused.accepted);
  EXPECT_EQ(refused.checks.front().id, "K002");
  EXPECT_EQ(refused.checks.front().status, CheckStatus::fail);
  std::string text = render_plan_text(refused);
  EXPECT_NE(text.find("REFUSED"), std::string::npos);
  EXPECT_LT(text.find("K002  fail"), text.find("K001  pass"));
}

}  // namespace
}  // namespace keel::contract
