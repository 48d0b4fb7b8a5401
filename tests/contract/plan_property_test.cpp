// The plan follows the spec: every spec field a control, refusal or failure response depends
// on is mutated here on all seven examples, and the plan must change with it (a control
// appears or disappears, its text names the new value, a refusal comes or goes). Nothing in a
// plan may be canned text that survives the spec saying otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>

#include "contract/fault_injections.h"
#include "contract/plan.h"
#include "contract/plan_render.h"
#include "contract/spec_parser.h"
#include "core/json.h"
#include "support/test_support.h"

namespace keel::contract {
namespace {

const char* kScenarios[] = {"local-research", "enterprise-rag", "browser-classifier",
                            "mobile-vision",  "llm-service",    "durable-agent",
                            "hybrid-field"};

Spec example(const std::string& scenario) {
  auto spec = load_spec(testing::source_dir() + "/examples/" + scenario + ".yaml");
  EXPECT_TRUE(spec.ok()) << spec.status().to_string();
  return spec.ok() ? *spec : Spec();
}

Plan plan_of(const Spec& s) {
  return build_plan(s, run_checks(s));
}

const PlanControl* control(const Plan& p, std::string_view id) {
  for (const auto& c : p.controls) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

bool refuses(const Plan& p, std::string_view words) {
  return std::any_of(p.refuses_to_own.begin(), p.refuses_to_own.end(),
                     [&](const std::string& r) { return r.find(words) != std::string::npos; });
}

bool has_step(const Plan& p, std::string_view id) {
  return std::any_of(p.execution_path.begin(), p.execution_path.end(),
                     [&](const PlanStep& s) { return s.id == id; });
}

const FailureResponse* fault_row(const Plan& p, Fault f) {
  for (const auto& r : p.failure_plan) {
    if (r.fault == enum_name(f)) return &r;
  }
  return nullptr;
}

bool mentions(const PlanControl* c, std::string_view text) {
  return c && c->enforced_by.find(text) != std::string::npos;
}

// One mutation of one spec field: `apply` changes a copy of an example (false: the field does
// not apply to this scenario), `expect` checks the plan before and after.
struct Mutation {
  std::string field;
  std::function<bool(Spec&)> apply;
  std::function<void(const Spec& after_spec, const Plan& before, const Plan& after)> expect;
};

Tool* first_tool(Spec& s, const std::function<bool(const Tool&)>& pred) {
  for (auto& t : s.authority.tools) {
    if (pred(t)) return &t;
  }
  return nullptr;
}

std::vector<Mutation> mutations() {
  std::vector<Mutation> m;

  // ---- deployment.egress
  m.push_back({"deployment.egress: none",
               [](Spec& s) {
                 if (s.deployment.egress.none) return false;
                 s.deployment.egress.none = true;
                 s.deployment.egress.allow.clear();
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 EXPECT_TRUE(control(p, "egress-none"));
                 EXPECT_FALSE(control(p, "egress-allow-list"));
                 if (s.scenario == ScenarioId::mobile_vision) {
                   EXPECT_FALSE(control(p, "staged-update")) << "no update channel without egress";
                   EXPECT_FALSE(has_step(p, "update"));
                 }
                 if (s.scenario == ScenarioId::hybrid_field) {
                   EXPECT_FALSE(has_step(p, "infer-remote"));
                 }
               }});
  m.push_back({"deployment.egress: {allow: [...]}",
               [](Spec& s) {
                 s.deployment.egress.none = false;
                 s.deployment.egress.allow = {"elsewhere.example"};
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 const PlanControl* c = control(p, "egress-allow-list");
                 ASSERT_TRUE(c);
                 EXPECT_FALSE(control(p, "egress-none"));
                 EXPECT_TRUE(mentions(c, "elsewhere.example")) << c->enforced_by;
                 // The built runtimes hold Keel's one HTTP client to the list; the others
                 // enforce nothing.
                 EXPECT_EQ(c->enforced, runtime_built(s.scenario)) << enum_name(s.scenario);
                 if (c->enforced && s.deployment.target == Target::browser) {
                   EXPECT_TRUE(mentions(c, "connect-src 'self' elsewhere.example")) << c->enforced_by;
                 } else if (c->enforced && s.scenario == ScenarioId::mobile_vision) {
                   // The device's runtime opens no socket at all; the list is the app's.
                   EXPECT_TRUE(mentions(c, "open no socket at all")) << c->enforced_by;
                 } else if (c->enforced) {
                   EXPECT_TRUE(mentions(c, "every address it resolves to")) << c->enforced_by;
                 }
                 if (s.scenario == ScenarioId::local_research) {
                   EXPECT_FALSE(refuses(p, "network access"));
                   EXPECT_FALSE(refuses(p, "off the device"));
                   EXPECT_FALSE(has_step(p, "guard"));
                 }
                 if (s.scenario == ScenarioId::mobile_vision) {
                   EXPECT_FALSE(control(p, "staged-update"));
                 }
               }});

  // ---- deployment.telemetry
  m.push_back({"deployment.telemetry.sink: otlp",
               [](Spec& s) {
                 if (s.deployment.telemetry.sink == TelemetrySink::otlp) return false;
                 s.deployment.telemetry.sink = TelemetrySink::otlp;
                 s.deployment.telemetry.endpoint = "https://otel.example:4317";
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 const PlanControl* c = control(p, "telemetry-otlp");
                 ASSERT_TRUE(c);
                 EXPECT_FALSE(control(p, "telemetry-local"));
                 EXPECT_TRUE(mentions(c, "https://otel.example:4317"));
                 EXPECT_FALSE(c->enforced) << "no OTLP exporter is built";
                 if (s.scenario == ScenarioId::local_research) {
                   EXPECT_FALSE(refuses(p, "off the device"));
                 }
               }});
  m.push_back({"deployment.telemetry.sink: none",
               [](Spec& s) {
                 s.deployment.telemetry.sink = TelemetrySink::none;
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 const PlanControl* c = control(p, "telemetry-none");
                 ASSERT_TRUE(c);
                 if (s.scenario == ScenarioId::llm_service) {
                   EXPECT_FALSE(c->enforced) << "/metrics is always served";
                 }
               }});

  // ---- deployment.remote_fallback
  m.push_back({"deployment.remote_fallback: enabled",
               [](Spec& s) {
                 if (s.deployment.remote_fallback == RemoteFallback::enabled) return false;
                 s.deployment.remote_fallback = RemoteFallback::enabled;
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 const PlanControl* c = control(p, "remote-fallback-enabled");
                 ASSERT_TRUE(c);
                 EXPECT_FALSE(control(p, "remote-fallback-disabled"));
                 // keel field ask routes to a remote model; keel web serve's page asks first.
                 EXPECT_EQ(c->enforced, s.scenario == ScenarioId::hybrid_field ||
                                            s.scenario == ScenarioId::browser_classifier);
                 if (s.scenario == ScenarioId::local_research) {
                   EXPECT_FALSE(refuses(p, "off the device"));
                 }
                 if (s.scenario == ScenarioId::hybrid_field) {
                   // Consent stays for the classes routing.consent names, and only for them.
                   EXPECT_EQ(control(p, "consent") != nullptr, !s.routing.consent.empty());
                 }
                 if (s.scenario == ScenarioId::browser_classifier) {
                   EXPECT_FALSE(refuses(p, "uploading"));
                 }
               }});

  // ---- data.raw_input_retention
  for (Retention r : {Retention::none, Retention::session, Retention::durable}) {
    m.push_back({"data.raw_input_retention: " + std::string(enum_name(r)),
                 [r](Spec& s) {
                   if (s.data.raw_input_retention == r) return false;
                   s.data.raw_input_retention = r;
                   return true;
                 },
                 [r](const Spec& s, const Plan&, const Plan& p) {
                   const PlanControl* c =
                       control(p, "raw-input-retention-" + std::string(enum_name(r)));
                   ASSERT_TRUE(c);
                   if (s.scenario == ScenarioId::mobile_vision) {
                     EXPECT_EQ(refuses(p, "storing raw camera frames"), r == Retention::none);
                   }
                   if (s.scenario == ScenarioId::durable_agent) {
                     EXPECT_EQ(c->enforced, r == Retention::durable)
                         << "the journal keeps case inputs";
                   }
                 }});
  }

  // ---- data.sources[].access
  m.push_back(
      {"data.sources[].access: read-write",
       [](Spec& s) {
         for (auto& src : s.data.sources) {
           if (src.access == Access::read_only) {
             src.access = Access::read_write;
             return true;
           }
         }
         return false;
       },
       [](const Spec& s, const Plan& before, const Plan& p) {
         EXPECT_LT(p.controls.size(), before.controls.size());
         for (const auto& src : s.data.sources) {
           EXPECT_EQ(control(p, "read-only:" + src.id) != nullptr, src.access == Access::read_only)
               << src.id;
         }
         if (s.scenario == ScenarioId::local_research) {
           EXPECT_FALSE(refuses(p, "writing to the user's documents"));
         }
       }});
  m.push_back({"data.sources: []",
               [](Spec& s) {
                 if (s.data.sources.empty()) return false;
                 s.data.sources.clear();
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 for (const auto& c : p.controls) {
                   EXPECT_NE(c.id.rfind("read-only:", 0), 0u) << c.id;
                 }
                 if (s.scenario == ScenarioId::enterprise_rag) {
                   EXPECT_FALSE(control(p, "row-field-policy"));
                   EXPECT_FALSE(control(p, "typed-metrics-only"));
                   EXPECT_FALSE(refuses(p, "free-form SQL"));
                 }
               }});

  // ---- authority.tools
  m.push_back({"authority.tools[].roles",
               [](Spec& s) {
                 if (s.authority.tools.empty()) return false;
                 s.authority.tools[0].roles = {"night-shift"};
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 EXPECT_TRUE(mentions(control(p, "permission:" + s.authority.tools[0].name),
                                      "night-shift"));
               }});
  m.push_back({"authority.tools[].approval: none",
               [](Spec& s) {
                 bool any = false;
                 for (auto& t : s.authority.tools) {
                   any |= t.approval != Approval::none;
                   t.approval = Approval::none;
                 }
                 return any;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 for (const auto& t : s.authority.tools) {
                   EXPECT_FALSE(control(p, "approval:" + t.name));
                 }
                 EXPECT_FALSE(control(p, "approval-binding"));
                 EXPECT_FALSE(refuses(p, "approval was given for other arguments"));
                 EXPECT_FALSE(has_step(p, "approve"));
               }});
  m.push_back(
      {"authority.tools[].approval: always",
       [](Spec& s) {
         Tool* t = first_tool(s, [](const Tool& x) { return x.approval == Approval::none; });
         if (!t) return false;
         t->approval = Approval::always;
         return true;
       },
       [](const Spec& s, const Plan&, const Plan& p) {
         for (const auto& t : s.authority.tools) {
           EXPECT_EQ(control(p, "approval:" + t.name) != nullptr, t.approval != Approval::none)
               << t.name;
         }
         if (s.scenario == ScenarioId::durable_agent) {
           EXPECT_TRUE(control(p, "approval-binding"));
         }
       }});
  m.push_back({"authority.tools[].approval_remind_after_s / approval_expire_after_s",
               [](Spec& s) {
                 Tool* t =
                     first_tool(s, [](const Tool& x) { return x.approval != Approval::none; });
                 if (!t) return false;
                 t->approval_remind_after_s = 777;
                 t->approval_expire_after_s = 9999;
                 if (std::find(s.failure.inject.begin(), s.failure.inject.end(),
                               Fault::approval_timeout) == s.failure.inject.end()) {
                   s.failure.inject.push_back(Fault::approval_timeout);
                 }
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 const Tool* t = nullptr;
                 for (const auto& x : s.authority.tools) {
                   if (x.approval_expire_after_s) t = &x;
                 }
                 ASSERT_TRUE(t);
                 const PlanControl* c = control(p, "approval:" + t->name);
                 EXPECT_TRUE(mentions(c, "777 s"));
                 EXPECT_TRUE(mentions(c, "9999 s"));
                 const FailureResponse* f = fault_row(p, Fault::approval_timeout);
                 ASSERT_TRUE(f);
                 EXPECT_NE(f->response.find("777 s"), std::string::npos) << f->response;
                 EXPECT_NE(f->recovery.find("9999 s"), std::string::npos) << f->recovery;
               }});
  m.push_back({"authority.tools[].idempotency: none",
               [](Spec& s) {
                 Tool* t = first_tool(
                     s, [](const Tool& x) { return x.idempotency == Idempotency::required; });
                 if (!t) return false;
                 t->idempotency = Idempotency::none;
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 for (const auto& t : s.authority.tools) {
                   EXPECT_EQ(control(p, "idempotency:" + t.name) != nullptr,
                             t.idempotency == Idempotency::required);
                 }
               }});
  m.push_back({"authority.tools: only reads",
               [](Spec& s) {
                 bool any = false;
                 for (auto& t : s.authority.tools) {
                   any |= t.effect != Effect::read;
                   t.effect = Effect::read;
                 }
                 return any;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 for (const auto& c : p.controls) {
                   EXPECT_NE(c.id.rfind("outcome-check:", 0), 0u) << c.id;
                 }
                 if (s.scenario == ScenarioId::durable_agent) {
                   EXPECT_FALSE(refuses(p, "outcome is unknown"));
                 }
                 if (s.scenario == ScenarioId::hybrid_field) {
                   EXPECT_FALSE(control(p, "versioned-sync"));
                   EXPECT_FALSE(control(p, "durable-offline-queue"));
                   EXPECT_FALSE(refuses(p, "overwriting a newer version"));
                 }
               }});

  // ---- authority.system_of_record
  m.push_back({"authority.system_of_record: null",
               [](Spec& s) {
                 if (!s.authority.system_of_record) return false;
                 s.authority.system_of_record.reset();
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 for (const auto& c : p.controls) {
                   EXPECT_NE(c.id.rfind("outcome-check:", 0), 0u) << c.id;
                 }
                 EXPECT_FALSE(refuses(p, "the system of record itself"));
                 if (s.scenario == ScenarioId::hybrid_field) {
                   EXPECT_FALSE(control(p, "versioned-sync"));
                 }
               }});
  m.push_back({"authority.system_of_record: another component",
               [](Spec& s) {
                 if (!s.authority.system_of_record) return false;
                 s.authority.system_of_record = "ledger-b";
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 bool named = false;
                 for (const auto& c : p.controls) {
                   if (c.id.rfind("outcome-check:", 0) == 0) {
                     named = true;
                     EXPECT_TRUE(mentions(&c, "ledger-b"));
                   }
                 }
                 EXPECT_TRUE(named);
               }});

  // ---- authority.memory
  m.push_back({"authority.memory.writes: explicit",
               [](Spec& s) {
                 if (s.authority.memory.writes == MemoryWrites::explicit_writes) return false;
                 s.authority.memory.writes = MemoryWrites::explicit_writes;
                 s.authority.memory.store = "notes-db";
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 const PlanControl* c = control(p, "memory-explicit");
                 ASSERT_TRUE(c);
                 EXPECT_FALSE(control(p, "memory-none"));
                 EXPECT_TRUE(mentions(c, "notes-db"));
                 if (s.scenario == ScenarioId::local_research ||
                     s.scenario == ScenarioId::llm_service) {
                   EXPECT_FALSE(c->enforced);
                 }
               }});
  m.push_back({"authority.memory.writes: none",
               [](Spec& s) {
                 if (s.authority.memory.writes == MemoryWrites::none) return false;
                 s.authority.memory.writes = MemoryWrites::none;
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 EXPECT_TRUE(control(p, "memory-none"));
                 EXPECT_FALSE(control(p, "memory-explicit"));
               }});

  // ---- deployment.models
  m.push_back({"deployment.models[].sha256",
               [](Spec& s) {
                 if (s.deployment.models.empty() || !s.deployment.models[0].sha256.empty())
                   return false;
                 s.deployment.models[0].sha256 = std::string(64, 'a');
                 if (!s.deployment.models[0].url.empty() && s.deployment.models.size() > 1) {
                   s.deployment.models[1].sha256 = std::string(64, 'b');
                 }
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 const PlanControl* c = control(p, "content-address:" + s.deployment.models[0].id);
                 EXPECT_TRUE(mentions(c, "aaaaaaaaaaaa"));
                 if (s.scenario == ScenarioId::browser_classifier) {
                   EXPECT_TRUE(has_step(p, "verify"));
                   EXPECT_TRUE(refuses(p, "hash does not match"));
                 }
               }});
  m.push_back({"deployment.models[].max_ram_mb",
               [](Spec& s) {
                 for (auto& model : s.deployment.models) {
                   if (model.runs == ModelPlacement::local) {
                     model.max_ram_mb = 12345;
                     return true;
                   }
                 }
                 return false;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 const ModelSpec* model = nullptr;
                 for (const auto& x : s.deployment.models) {
                   if (x.max_ram_mb == 12345) model = &x;
                 }
                 const PlanControl* c = control(p, "model-fit:" + model->id);
                 ASSERT_TRUE(c);
                 if (s.scenario == ScenarioId::llm_service) {
                   EXPECT_FALSE(c->enforced) << "keel serve ignores max_ram_mb";
                 } else {
                   EXPECT_TRUE(mentions(c, "12345 MB")) << c->enforced_by;
                 }
               }});
  m.push_back(
      {"deployment.models[].fallbacks + failure.on_model_unfit: fallback",
       [](Spec& s) {
         if (s.deployment.models.size() < 2 || s.deployment.models[0].runs != ModelPlacement::local)
           return false;
         if (s.failure.on_model_unfit == OnModelUnfit::fallback &&
             !s.deployment.models[0].fallbacks.empty()) {
           return false;
         }
         s.deployment.models[0].fallbacks = {s.deployment.models[1].id};
         s.failure.on_model_unfit = OnModelUnfit::fallback;
         return true;
       },
       [](const Spec& s, const Plan& before, const Plan& p) {
         const PlanControl* c = control(p, "model-fit:" + s.deployment.models[0].id);
         ASSERT_TRUE(c);
         if (s.scenario == ScenarioId::llm_service) {
           EXPECT_FALSE(c->enforced);
         } else if (s.scenario != ScenarioId::durable_agent) {
           EXPECT_TRUE(mentions(c, "load fallback " + s.deployment.models[1].id)) << c->enforced_by;
           const FailureResponse* f = fault_row(p, Fault::model_unfit);
           ASSERT_TRUE(f);
           EXPECT_NE(f->response.find(s.deployment.models[1].id), std::string::npos) << f->response;
         }
         (void)before;
       }});
  m.push_back({"deployment.models: []",
               [](Spec& s) {
                 if (s.deployment.models.empty()) return false;
                 s.deployment.models.clear();
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 for (const auto& c : p.controls) {
                   EXPECT_NE(c.id.rfind("model-fit:", 0), 0u) << c.id;
                 }
                 EXPECT_FALSE(fault_row(p, Fault::model_unfit) &&
                              !fault_row(p, Fault::model_unfit)->declared);
               }});

  // ---- failure
  m.push_back({"failure.on_overload",
               [](Spec& s) {
                 s.failure.on_overload = OverloadPolicy{503, 7};
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 const PlanControl* c = control(p, "admission");
                 ASSERT_TRUE(c);
                 EXPECT_TRUE(mentions(c, "HTTP 503"));
                 EXPECT_TRUE(mentions(c, "7 s"));
                 // keel serve answers 429; the other built runtimes have no admission queue.
                 if (s.scenario == ScenarioId::llm_service ||
                     s.scenario == ScenarioId::local_research ||
                     s.scenario == ScenarioId::durable_agent) {
                   EXPECT_FALSE(c->enforced);
                 }
                 EXPECT_TRUE(fault_row(p, Fault::overload));
               }});
  m.push_back(
      {"failure.on_overload: absent",
       [](Spec& s) {
         if (!s.failure.on_overload) return false;
         s.failure.on_overload.reset();
         return true;
       },
       [](const Spec&, const Plan&, const Plan& p) { EXPECT_FALSE(control(p, "admission")); }});
  m.push_back({"failure.on_route_unavailable: queue",
               [](Spec& s) {
                 s.failure.on_route_unavailable = OnRouteUnavailable::queue;
                 s.failure.on_route_unavailable_set = true;
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 EXPECT_TRUE(control(p, "route-queue"));
                 EXPECT_FALSE(control(p, "route-fail-closed"));
                 EXPECT_FALSE(refuses(p, "trying another route"));
                 if (s.scenario == ScenarioId::hybrid_field) {
                   const FailureResponse* f = fault_row(p, Fault::connectivity_loss);
                   ASSERT_TRUE(f);
                   EXPECT_NE(f->response.find("queue"), std::string::npos);
                 }
               }});

  // ---- serving (llm-service)
  m.push_back({"serving.api_keys: none",
               [](Spec& s) {
                 if (s.scenario != ScenarioId::llm_service) return false;
                 s.serving.api_keys.clear();
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 EXPECT_FALSE(control(p, "gateway-auth")) << "no keys, no API-key authentication";
                 EXPECT_FALSE(control(p, "tenant-quota"))
                     << "quotas need tenants, tenants need keys";
                 EXPECT_FALSE(control(p, "fair-scheduling"));
                 EXPECT_TRUE(control(p, "no-auth"));
               }});
  m.push_back({"authority.principals[].limits",
               [](Spec& s) {
                 if (s.scenario != ScenarioId::llm_service) return false;
                 for (auto& pr : s.authority.principals) pr.limits.reset();
                 s.authority.principals[0].limits = PrincipalLimits{42, 0, 0, {}};
                 return true;
               },
               [](const Spec& s, const Plan&, const Plan& p) {
                 const PlanControl* c = control(p, "tenant-quota");
                 EXPECT_TRUE(mentions(c, s.authority.principals[0].id + " (42 req/min)"))
                     << (c ? c->enforced_by : "");
                 EXPECT_FALSE(mentions(c, s.authority.principals[1].id));
               }});
  m.push_back({"authority.principals[].limits: none",
               [](Spec& s) {
                 if (s.scenario != ScenarioId::llm_service) return false;
                 for (auto& pr : s.authority.principals) pr.limits.reset();
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 EXPECT_FALSE(control(p, "tenant-quota"));
                 EXPECT_FALSE(has_step(p, "quota"));
               }});
  m.push_back({"slo.ttft_ms / slo.tpot_ms",
               [](Spec& s) {
                 if (s.scenario != ScenarioId::llm_service) return false;
                 s.slo.ttft_ms->p95 = 321;
                 s.slo.ttft_ms->p99.reset();
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 EXPECT_TRUE(mentions(control(p, "goodput-autoscaling"), "TTFT under 321 ms"));
               }});
  m.push_back({"slo: no latency objective",
               [](Spec& s) {
                 if (s.scenario != ScenarioId::llm_service) return false;
                 s.slo.ttft_ms.reset();
                 s.slo.tpot_ms.reset();
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 EXPECT_FALSE(control(p, "goodput-autoscaling")) << "goodput needs an objective";
               }});
  m.push_back({"serving.prefix_caching: false",
               [](Spec& s) {
                 if (s.scenario != ScenarioId::llm_service) return false;
                 s.serving.prefix_caching = false;
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 for (const auto& st : p.execution_path) {
                   if (st.id == "prefill") {
                     EXPECT_EQ(st.action.find("prefix"), std::string::npos) << st.action;
                   }
                 }
               }});
  m.push_back({"serving.max_waiting",
               [](Spec& s) {
                 if (s.scenario != ScenarioId::llm_service) return false;
                 s.serving.max_waiting = 17;
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 EXPECT_TRUE(mentions(control(p, "admission"), "at most 17 waiting"));
               }});

  // ---- components (enterprise-rag, hybrid-field)
  m.push_back({"components: no identity provider",
               [](Spec& s) {
                 auto before = s.components.size();
                 std::erase_if(s.components, [](const Component& c) {
                   return c.kind == ComponentKind::identity_provider;
                 });
                 return s.components.size() != before;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 EXPECT_FALSE(control(p, "tenant-isolation"));
                 EXPECT_FALSE(refuses(p, "choosing the tenant"));
               }});
  m.push_back(
      {"components: no PostgreSQL",
       [](Spec& s) {
         if (s.scenario != ScenarioId::enterprise_rag) return false;
         std::erase_if(s.components,
                       [](const Component& c) { return c.kind == ComponentKind::postgresql; });
         return true;
       },
       [](const Spec&, const Plan&, const Plan& p) { EXPECT_FALSE(control(p, "tenant-rls")); }});
  m.push_back({"components: the offline queue",
               [](Spec& s) {
                 if (s.scenario != ScenarioId::hybrid_field) return false;
                 for (auto& c : s.components) {
                   if (c.kind == ComponentKind::sqlite) c.id = "field-queue";
                 }
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 EXPECT_TRUE(mentions(control(p, "durable-offline-queue"), "field-queue"));
               }});

  // ---- scenario-specific reads of the generic sections
  m.push_back({"deployment.models[].fallbacks: none (mobile thermal budget)",
               [](Spec& s) {
                 if (s.scenario != ScenarioId::mobile_vision) return false;
                 for (auto& model : s.deployment.models) model.fallbacks.clear();
                 return true;
               },
               [](const Spec&, const Plan& before, const Plan& p) {
                 EXPECT_TRUE(mentions(control(before, "thermal-budget"), "smaller model"));
                 EXPECT_FALSE(mentions(control(p, "thermal-budget"), "smaller model"));
               }});
  m.push_back({"slo.latency_ms (mobile thermal budget)",
               [](Spec& s) {
                 if (s.scenario != ScenarioId::mobile_vision) return false;
                 s.slo.latency_ms->p99 = 33;
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 EXPECT_TRUE(mentions(control(p, "thermal-budget"), "33 ms"));
               }});
  m.push_back({"deployment.models[].runs: remote (hybrid route)",
               [](Spec& s) {
                 if (s.scenario != ScenarioId::hybrid_field) return false;
                 std::erase_if(s.deployment.models,
                               [](const ModelSpec& x) { return x.runs == ModelPlacement::remote; });
                 return true;
               },
               [](const Spec&, const Plan&, const Plan& p) {
                 EXPECT_FALSE(has_step(p, "infer-remote"));
                 EXPECT_FALSE(control(p, "consent"));
               }});
  return m;
}

TEST(PlanProperty, EveryFieldAPlanReadsChangesThePlan) {
  int applied = 0;
  std::set<std::string> fields_applied;
  for (const char* scenario : kScenarios) {
    const Spec original = example(scenario);
    const Plan before = plan_of(original);
    const std::string before_json = render_plan_json(before);
    for (const auto& m : mutations()) {
      Spec s = original;
      if (!m.apply(s)) continue;
      SCOPED_TRACE(std::string(scenario) + ": " + m.field);
      Plan after = plan_of(s);
      EXPECT_TRUE(render_plan_json(after) != before_json) << "the plan ignored the change";
      m.expect(s, before, after);
      ++applied;
      fields_applied.insert(m.field);
    }
  }
  // Every mutation applied to at least one example, so none is silently dead.
  for (const auto& m : mutations()) {
    EXPECT_TRUE(fields_applied.count(m.field)) << m.field << " applied nowhere";
  }
  EXPECT_GT(applied, 100);
}

TEST(PlanProperty, RuntimeNotBuiltEnforcesNothing) {
  for (const char* scenario : kScenarios) {
    SCOPED_TRACE(scenario);
    Spec s = example(scenario);
    Plan p = plan_of(s);
    EXPECT_EQ(p.runtime_built, runtime_built(s.scenario));
    std::string text = render_plan_text(p);
    auto json = parse_json(render_plan_json(p));
    ASSERT_TRUE(json.ok());
    EXPECT_TRUE(p.accepted) << "a spec that passes its checks is accepted, built or not";
    if (!p.runtime_built) {
      EXPECT_EQ(p.runtime, "not built");
      EXPECT_EQ((*json)["runtime"], "not built");
      EXPECT_NE(text.find("runtime: not built"), std::string::npos);
      for (const auto& c : p.controls) {
        EXPECT_FALSE(c.enforced) << c.id;
        EXPECT_NE(c.gap.find("runtime not built"), std::string::npos) << c.id;
      }
      for (const auto& c : (*json)["controls"]) {
        EXPECT_FALSE(c["enforced"].get<bool>());
      }
      EXPECT_EQ(text.find("runtime: keel"), std::string::npos);
    } else {
      EXPECT_EQ((*json)["runtime"], "built");
      EXPECT_EQ((*json)["runtime_command"], p.runtime);
      EXPECT_NE(text.find("runtime: keel "), std::string::npos);
      int enforced = 0;
      for (const auto& c : p.controls) {
        enforced += c.enforced;
        EXPECT_EQ(c.enforced, c.gap.empty()) << c.id << ": a control is enforced or says why not";
      }
      EXPECT_GT(enforced, 0);
    }
  }
}

// Every fault a spec may declare is `tested by` exactly the table's tests for the scenario, or
// `not injected`; declaring it changes nothing about whether it is injected.
TEST(PlanProperty, FaultsAreTestedByTheTableOrNotInjected) {
  for (const char* scenario : kScenarios) {
    const Spec original = example(scenario);
    for (const auto& entry : enum_entries<Fault>()) {
      SCOPED_TRACE(std::string(scenario) + ": " + std::string(entry.name));
      Spec s = original;
      s.failure.inject = {entry.value};
      Plan p = plan_of(s);
      const FailureResponse* row = fault_row(p, entry.value);
      ASSERT_TRUE(row);
      EXPECT_TRUE(row->declared);
      std::vector<std::string> expected;
      for (const FaultInjection* i : injections_for(entry.value, s.scenario))
        expected.emplace_back(i->test);
      EXPECT_EQ(row->tested_by, expected);
      std::string text = render_plan_text(p);
      auto json = parse_json(render_plan_json(p));
      ASSERT_TRUE(json.ok());
      for (const auto& f : (*json)["failure_plan"]) {
        if (f["fault"] != entry.name) continue;
        EXPECT_EQ(f["injected"].get<bool>(), !expected.empty());
        EXPECT_EQ(f["tested_by"].size(), expected.size());
      }
      if (expected.empty()) {
        EXPECT_NE(text.find("not injected"), std::string::npos);
      } else {
        EXPECT_NE(text.find("tested by"), std::string::npos);
      }
    }
  }
  // The examples' declared faults: most are injected somewhere, and the plan says which not.
  Plan agent = plan_of(example("durable-agent"));
  const FailureResponse* kill = fault_row(agent, Fault::worker_kill);
  ASSERT_TRUE(kill);
  ASSERT_FALSE(kill->tested_by.empty());
  EXPECT_NE(kill->tested_by[0].find("AgentCommand."), std::string::npos);
  // Every fault of the browser classifier, declared or implied, is injected in Chromium.
  Plan browser = plan_of(example("browser-classifier"));
  for (const auto& f : browser.failure_plan) {
    ASSERT_FALSE(f.tested_by.empty()) << f.fault;
    EXPECT_NE(f.tested_by[0].find("BrowserClassifier."), std::string::npos) << f.fault;
  }
}

// The three offenders that started this: canned text that contradicted the spec.
TEST(PlanProperty, KnownCannedTextIsGone) {
  Spec mobile = example("mobile-vision");
  mobile.data.raw_input_retention = Retention::durable;
  Plan m = plan_of(mobile);
  EXPECT_FALSE(refuses(m, "storing raw camera frames"));
  for (const auto& st : m.execution_path) {
    EXPECT_EQ(st.action.find("frame is dropped"), std::string::npos) << st.action;
  }

  Spec service = example("llm-service");
  service.serving.api_keys.clear();
  EXPECT_FALSE(control(plan_of(service), "gateway-auth"));

  for (const char* scenario : kScenarios) {
    // Signatures come up only where the spec registers a key (an approver's public_key, the
    // browser app's signer).
    Spec s = example(scenario);
    for (auto& p : s.authority.principals) p.public_key.reset();
    s.browser.signer.reset();
    s.edge.update_signer.reset();
    std::string text = render_plan_text(plan_of(s));
    EXPECT_EQ(text.find("Ed25519"), std::string::npos)
        << scenario << ": no spec field carries a signature";
    EXPECT_EQ(text.find("signature"), std::string::npos) << scenario;
  }
  const Plan agent_plan = plan_of(example("durable-agent"));
  const PlanControl* identity = control(agent_plan, "approver-identity");
  ASSERT_TRUE(identity);
  EXPECT_TRUE(mentions(identity, "Ed25519 signature under the key registered for supervisor"))
      << identity->enforced_by;
}

}  // namespace
}  // namespace keel::contract
