#include "contract/spec_parser.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_support.h"

namespace keel::contract {
namespace {

//! The errors of a parse (none when it succeeded).
[[maybe_unused]] SpecErrors errors_of(const ParsedSpec& p) { return p.ok() ? SpecErrors{} : p.error(); }

const char* kMinimal = R"(keel: 1
name: minimal
scenario: local-research
data:
  classes: [confidential]
deployment:
  target: desktop
  egress: none
)";

std::vector<std::string> error_strings(const ParsedSpec& p) {
  std::vector<std::string> out;
  for (const auto& e : errors_of(p)) out.push_back(e.to_string());
  return out;
}

::testing::AssertionResult has_error(const ParsedSpec& p, const std::string& expected) {
  for (const auto& e : errors_of(p)) {
    if (e.to_string() == expected) return ::testing::AssertionSuccess();
  }
  std::string all;
  for (const auto& e : errors_of(p)) all += "\n  " + e.to_string();
  return ::testing::AssertionFailure() << "no error '" << expected << "' among:" << all;
}

TEST(SpecParser, AnIdentityProviderNamesItsIssuerAudienceKeysAndClaims) {
  const std::string base = std::string(kMinimal) + "components:\n";
  ParsedSpec p = parse_spec_text(base + R"(  - id: idp
    kind: identity-provider
    url: https://login.example
    audience: api
    jwks: keys.json
    claims: {tenant: org}
)");
  ASSERT_TRUE(p.ok()) << ::testing::PrintToString(error_strings(p));
  const auto& id = p->components[0].identity;
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->issuer, "https://login.example");  // the url, unless `issuer:` says otherwise
  EXPECT_EQ(id->audience, "api");
  EXPECT_EQ(id->jwks, "keys.json");
  EXPECT_EQ(id->tenant_claim, "org");
  EXPECT_EQ(id->principal_claim, "sub");
  EXPECT_EQ(id->roles_claim, "roles");

  ParsedSpec wrong_kind = parse_spec_text(base + "  - {id: db, kind: postgresql, url: x, audience: api}\n");
  EXPECT_TRUE(has_error(wrong_kind, "components[0].audience: only an identity-provider component takes 'audience' (line 10)"));
  ParsedSpec bad_claim = parse_spec_text(base + "  - {id: idp, kind: identity-provider, url: x, claims: {team: t}}\n");
  EXPECT_FALSE(bad_claim.ok());
  ParsedSpec none = parse_spec_text(base + "  - {id: db, kind: postgresql, url: x}\n");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->components[0].identity.has_value());
}

TEST(SpecParser, SyncRulesNameAFieldAndARule) {
  ParsedSpec p = parse_spec_text(std::string(kMinimal) + R"(sync:
  default: ask
  rules: {work_orders.notes: merge, reading: device-wins}
)");
  ASSERT_TRUE(p.ok()) << ::testing::PrintToString(error_strings(p));
  EXPECT_TRUE(p->sync.present);
  EXPECT_EQ(p->sync.fallback, ConflictRule::ask);
  ASSERT_EQ(p->sync.rules.size(), 2u);
  EXPECT_EQ(p->sync.rules[0], std::make_pair(std::string("work_orders.notes"), ConflictRule::merge));
  EXPECT_EQ(p->sync.rules[1], std::make_pair(std::string("reading"), ConflictRule::device_wins));

  ParsedSpec bad = parse_spec_text(std::string(kMinimal) + "sync:\n  rules: {notes: newest-wins}\n");
  EXPECT_TRUE(has_error(bad, "sync.rules.notes: expected one of server-wins|device-wins|merge|ask, got 'newest-wins' (line 10)"))
      << ::testing::PrintToString(error_strings(bad));
  ParsedSpec bad_name = parse_spec_text(std::string(kMinimal) + "sync:\n  rules: {\"a b\": merge}\n");
  EXPECT_FALSE(bad_name.ok());
  ParsedSpec unknown = parse_spec_text(std::string(kMinimal) + "sync:\n  rule: {a: merge}\n");
  EXPECT_FALSE(unknown.ok());
  ParsedSpec none = parse_spec_text(kMinimal);
  EXPECT_FALSE(none->sync.present);
  EXPECT_EQ(none->sync.fallback, ConflictRule::server_wins);
}

TEST(SpecParser, RoutingNamesTasksConsentAndTheProbe) {
  ParsedSpec p = parse_spec_text(std::string(kMinimal) + R"(routing:
  probe: {path: /readyz, deadline_ms: 300}
  consent: [confidential]
  tasks:
    lookup: {class: confidential, needs: [generate, long-context], deadline_ms: 2500}
    note: {class: public}
)");
  ASSERT_TRUE(p.ok()) << ::testing::PrintToString(error_strings(p));
  EXPECT_TRUE(p->routing.present);
  EXPECT_EQ(p->routing.probe_path, "/readyz");
  EXPECT_EQ(p->routing.probe_deadline_ms, 300);
  ASSERT_EQ(p->routing.consent.size(), 1u);
  ASSERT_EQ(p->routing.tasks.size(), 2u);
  const RoutedTask* lookup = p->routing.task("lookup");
  ASSERT_NE(lookup, nullptr);
  EXPECT_EQ(lookup->data_class, DataClass::confidential);
  EXPECT_EQ(lookup->needs, (std::vector<std::string>{"generate", "long-context"}));
  EXPECT_EQ(lookup->deadline_ms, 2500);
  EXPECT_EQ(p->routing.task("note")->deadline_ms, 0);
  EXPECT_EQ(p->routing.task("missing"), nullptr);

  for (const char* bad : {"routing:\n  tasks: {lookup: {class: secret}}\n",
                          "routing:\n  tasks: {lookup: {class: internal, deadline_ms: -1}}\n",
                          "routing:\n  tasks: {lookup: {class: internal, budget: 3}}\n",
                          "routing:\n  tasks: {lookup: {needs: [generate]}}\n",
                          "routing:\n  tasks: [lookup]\n",
                          "routing:\n  tasks: {lookup: fast}\n",
                          "routing:\n  probe: {path: livez}\n",
                          "routing:\n  consent: [everything]\n",
                          "routing:\n  prob: {path: /livez}\n"}) {
    ParsedSpec refused = parse_spec_text(std::string(kMinimal) + bad);
    EXPECT_FALSE(refused.ok()) << bad;
  }
  EXPECT_FALSE(parse_spec_text(kMinimal)->routing.present);
}

TEST(SpecParser, BrowserNamesTheSignerCategoriesProvidersAndBudget) {
  const std::string key = "ed25519:" + std::string(64, 'a');
  ParsedSpec p = parse_spec_text(std::string(kMinimal) + "browser:\n  app: site\n  signer: " + key +
                                 "\n  categories: [invoice, letter]\n  providers: [webgpu, wasm]\n"
                                 "  min_device_memory_mb: 512\n  remote_endpoint: /api/x\n");
  ASSERT_TRUE(p.ok()) << ::testing::PrintToString(error_strings(p));
  EXPECT_TRUE(p->browser.present);
  EXPECT_EQ(p->browser.app, "site");
  ASSERT_TRUE(p->browser.signer.has_value());
  EXPECT_EQ(format_public_key(*p->browser.signer), key);
  EXPECT_EQ(p->browser.categories, (std::vector<std::string>{"invoice", "letter"}));
  EXPECT_EQ(p->browser.providers, (std::vector<std::string>{"webgpu", "wasm"}));
  EXPECT_EQ(p->browser.min_device_memory_mb, 512);
  EXPECT_EQ(p->browser.remote_endpoint, "/api/x");

  for (const char* bad : {"browser:\n  signer: ed25519:abc\n",
                          "browser:\n  providers: [webgl]\n",
                          "browser:\n  remote_endpoint: https://elsewhere.example/x\n",
                          "browser:\n  min_device_memory_mb: -1\n",
                          "browser:\n  categories: [\"two words\"]\n",
                          "browser:\n  singer: ed25519:abc\n"}) {
    ParsedSpec refused = parse_spec_text(std::string(kMinimal) + bad);
    EXPECT_FALSE(refused.ok()) << bad;
  }
  ParsedSpec none = parse_spec_text(kMinimal);
  EXPECT_FALSE(none->browser.present);
  EXPECT_EQ(none->browser.providers, (std::vector<std::string>{"webnn", "webgpu", "wasm"}));
}

TEST(SpecParser, EdgeBoundsCoverageAndPartitions) {
  ParsedSpec p = parse_spec_text(std::string(kMinimal) +
                                 "edge:\n  min_delegate_coverage: 0.75\n  max_partitions: 3\n");
  ASSERT_TRUE(p.ok()) << ::testing::PrintToString(error_strings(p));
  EXPECT_TRUE(p->edge.present);
  EXPECT_EQ(p->edge.min_delegate_coverage, 0.75);
  EXPECT_EQ(p->edge.max_partitions, 3);
  for (const char* bad : {"edge:\n  min_delegate_coverage: 1.5\n", "edge:\n  max_partitions: -1\n",
                          "edge:\n  min_coverage: 0.5\n"}) {
    EXPECT_FALSE(parse_spec_text(std::string(kMinimal) + bad).ok()) << bad;
  }
  EXPECT_FALSE(parse_spec_text(kMinimal)->edge.present);
}

TEST(SpecParser, MinimalSpecParsesWithDefaults) {
  ParsedSpec p = parse_spec_text(kMinimal);
  ASSERT_TRUE(p.ok()) << ::testing::PrintToString(error_strings(p));
  const Spec& s = *p;
  EXPECT_EQ(s.name, "minimal");
  EXPECT_EQ(s.scenario, ScenarioId::local_research);
  EXPECT_EQ(s.data.highest_class(), DataClass::confidential);
  EXPECT_TRUE(s.deployment.egress.none);
  EXPECT_EQ(s.deployment.remote_fallback, RemoteFallback::disabled);
  EXPECT_EQ(s.deployment.telemetry.sink, TelemetrySink::local);
  EXPECT_EQ(s.failure.on_route_unavailable, OnRouteUnavailable::fail_closed);
  EXPECT_FALSE(s.slo.present);
  EXPECT_TRUE(s.failure.inject.empty());
}

TEST(SpecParser, EveryExampleParses) {
  for (const auto& entry : std::filesystem::directory_iterator(testing::source_dir() + "/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    ParsedSpec p = parse_spec_file(entry.path().string());
    EXPECT_TRUE(p.ok()) << entry.path() << ::testing::PrintToString(error_strings(p));
  }
}

TEST(SpecParser, BadEnumNamesPathAllowedValuesAndLine) {
  std::string yaml = std::string(kMinimal) + R"(authority:
  principals: [{id: a, roles: [r]}]
  tools:
    - name: refund
      effect: delete
)";
  ParsedSpec p = parse_spec_text(yaml);
  EXPECT_FALSE(p.ok());
  EXPECT_TRUE(has_error(
      p, "authority.tools[0].effect: expected one of read|write|irreversible, got 'delete' (line 13)"));
}

TEST(SpecParser, UnknownKeysAreErrorsWithSuggestions) {
  std::string yaml = std::string(kMinimal) + "slo:\n  ttft_ms: {p95: 10}\n  workloads: {rps: 1}\n";
  ParsedSpec p = parse_spec_text(yaml);
  ASSERT_EQ(errors_of(p).size(), 1u) << ::testing::PrintToString(error_strings(p));
  EXPECT_EQ(errors_of(p)[0].path, "slo.workloads");
  EXPECT_EQ(errors_of(p)[0].line, 11);
  EXPECT_NE(errors_of(p)[0].message.find("did you mean 'workload'"), std::string::npos);
}

TEST(SpecParser, MissingRequiredKeysAreNamed) {
  ParsedSpec p = parse_spec_text("keel: 1\nname: x\nscenario: local-research\ndeployment: {target: desktop}\n");
  EXPECT_TRUE(has_error(p, "data: required key is missing (line 1)"));
  EXPECT_TRUE(has_error(p, "deployment.egress: required key is missing (line 4)"));
}

TEST(SpecParser, WrongTypesAreNamed) {
  std::string yaml = std::string(kMinimal) +
                     "slo:\n  workload: {rps: fast, concurrency: 2.5}\nfailure:\n  inject: model-restart\n";
  ParsedSpec p = parse_spec_text(yaml);
  EXPECT_TRUE(has_error(p, "slo.workload.rps: expected a number, got 'fast' (line 10)"));
  EXPECT_TRUE(has_error(p, "slo.workload.concurrency: expected a whole number, got 2.5 (line 10)"));
  EXPECT_TRUE(has_error(p, "failure.inject: expected a list, got 'model-restart' (line 12)"));
}

TEST(SpecParser, UnknownFaultListsTheCatalog) {
  std::string yaml = std::string(kMinimal) + "failure:\n  inject: [meteor-strike]\n";
  ParsedSpec p = parse_spec_text(yaml);
  ASSERT_FALSE(errors_of(p).empty());
  EXPECT_EQ(errors_of(p)[0].path, "failure.inject[0]");
  EXPECT_NE(errors_of(p)[0].message.find("model-restart|worker-kill"), std::string::npos);
}

TEST(SpecParser, DuplicatesAreRefused) {
  std::string yaml = std::string(kMinimal) +
                     "components:\n  - {id: db, kind: sqlite}\n  - {id: db, kind: postgresql}\nname: again\n";
  ParsedSpec p = parse_spec_text(yaml);
  EXPECT_TRUE(has_error(p, "components[1]: duplicate component id 'db' (line 11)"));
  EXPECT_TRUE(has_error(p, "name: duplicate key (line 12)"));
}

TEST(SpecParser, VersionSyntaxEncodingAndSize) {
  EXPECT_TRUE(has_error(parse_spec_text("keel: 2\nname: x\nscenario: local-research\ndata: {classes: [public]}\ndeployment: {target: desktop, egress: none}\n"),
                        "keel: unsupported spec version 2; this keel reads version 1 (line 1)"));
  ParsedSpec syntax = parse_spec_text("keel: 1\nname: [unclosed\n");
  ASSERT_EQ(errors_of(syntax).size(), 1u);
  EXPECT_NE(errors_of(syntax)[0].message.find("YAML syntax error"), std::string::npos);
  ParsedSpec utf = parse_spec_text("keel: 1\nname: \xff\n");
  ASSERT_EQ(errors_of(utf).size(), 1u);
  EXPECT_EQ(errors_of(utf)[0].line, 2);
  EXPECT_NE(errors_of(utf)[0].message.find("not valid UTF-8"), std::string::npos);
  EXPECT_FALSE(parse_spec_text(std::string(kMaxSpecBytes + 1, '#')).ok());
  EXPECT_TRUE(has_error(parse_spec_text(""), "spec: spec is empty (line 1)"));
  EXPECT_FALSE(parse_spec_text("- a\n- b\n").ok());
}

TEST(SpecParser, EgressAllowListMatchesHostsPortsAndWildcards) {
  Egress e;
  e.none = false;
  e.allow = {"otel.internal.example:4317", "*.corp.example", "api.example.com"};
  EXPECT_TRUE(e.allows("https://otel.internal.example:4317/v1/traces"));
  EXPECT_FALSE(e.allows("https://otel.internal.example:9999"));
  EXPECT_TRUE(e.allows("https://a.b.corp.example/x"));
  EXPECT_FALSE(e.allows("https://corp.example/x"));
  EXPECT_TRUE(e.allows("https://API.example.com:443/"));
  EXPECT_FALSE(e.allows("https://evil.example/?api.example.com"));
  Egress none;
  EXPECT_FALSE(none.allows("localhost"));
}

TEST(SpecParser, ApproverKeysRolesAndConsentsAreReadWithTheirPaths) {
  const std::string key = "ed25519:" + std::string(64, 'a');
  std::string yaml = std::string(kMinimal) + R"(authority:
  principals:
    - {id: boss, roles: [approver], public_key: ")" +
                     key + R"("}
    - {id: agent, roles: [clerk]}
  tools:
    - {name: refund, effect: read, approval: always, approver_roles: [finance, approver]}
  unsigned_approvals: allowed
)";
  yaml.replace(yaml.find("  egress: none\n"), 15, "  egress: none\n  remote_readers: allowed\n");
  ParsedSpec p = parse_spec_text(yaml);
  ASSERT_TRUE(p.ok()) << ::testing::PrintToString(error_strings(p));
  const Spec& s = *p;
  ASSERT_TRUE(s.authority.principals[0].public_key);
  EXPECT_EQ(format_public_key(*s.authority.principals[0].public_key), key);
  EXPECT_FALSE(s.authority.principals[1].public_key);
  EXPECT_EQ(s.authority.tools[0].approving_roles(),
            (std::vector<std::string>{"finance", "approver"}));
  EXPECT_EQ(s.authority.unsigned_approvals, UnsignedApprovals::allowed);
  EXPECT_EQ(s.deployment.remote_readers, RemoteReaders::allowed);
  // The defaults are the secure ones.
  ParsedSpec minimal = parse_spec_text(kMinimal);
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(minimal->authority.unsigned_approvals, UnsignedApprovals::refused);
  EXPECT_EQ(minimal->deployment.remote_readers, RemoteReaders::refused);
  Tool plain;
  EXPECT_EQ(plain.approving_roles(), (std::vector<std::string>{"approver"}));
}

TEST(SpecParser, BadApproverKeysRolesAndConsentsNameTheirPath) {
  std::string yaml = std::string(kMinimal) + R"(authority:
  principals:
    - {id: a, roles: [approver], public_key: "ed25519:abc"}
    - {id: b, roles: [approver], public_key: "rsa:)" +
                     std::string(64, 'a') + R"("}
    - {id: c, roles: [approver], public_key: "ed25519:)" +
                     std::string(64, 'A') + R"("}
  tools:
    - {name: refund, effect: read, approval: always, approver_roles: []}
  unsigned_approvals: maybe
)";
  yaml.replace(yaml.find("  egress: none\n"), 15, "  egress: none\n  remote_readers: everyone\n");
  ParsedSpec p = parse_spec_text(yaml);
  EXPECT_FALSE(p.ok());
  auto has_path = [&](const std::string& path, const std::string& words) {
    for (const auto& e : errors_of(p)) {
      if (e.path == path && e.message.find(words) != std::string::npos) return true;
    }
    ADD_FAILURE() << path << ": '" << words << "' not among "
                  << ::testing::PrintToString(error_strings(p));
    return false;
  };
  has_path("authority.principals[0].public_key", "64 lower-case hex digits");
  has_path("authority.principals[1].public_key", "ed25519:");
  has_path("authority.principals[2].public_key", "64 lower-case hex digits");
  has_path("authority.tools[0].approver_roles", "at least one role");
  has_path("authority.unsigned_approvals", "expected one of refused|allowed, got 'maybe'");
  has_path("deployment.remote_readers", "expected one of refused|allowed, got 'everyone'");
}

TEST(SpecParser, FileErrors) {
  ParsedSpec missing = parse_spec_file("/nonexistent/spec.yaml");
  ASSERT_EQ(errors_of(missing).size(), 1u);
  EXPECT_NE(errors_of(missing)[0].message.find("no such file"), std::string::npos);
  auto loaded = load_spec("/nonexistent/spec.yaml");
  EXPECT_EQ(loaded.status().code(), StatusCode::not_found);
}

}  // namespace
}  // namespace keel::contract
