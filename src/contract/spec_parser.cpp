#include "contract/spec_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "core/yaml_reader.h"
#include "core/utf8.h"

namespace keel::contract {

std::string SpecError::to_string() const {
  std::string out = path.empty() ? std::string("spec") : path;
  out += ": ";
  out += message;
  if (line > 0) out += fmt::format(" (line {})", line);
  return out;
}

namespace {

// The spec's reader: the shared YAML reader (core/yaml_reader.h) with the spec's enumerations
// and locations.
class Reader : public YamlReader {
 public:
  template <typename E>
  std::optional<E> enumeration(const YAML::Node& node, const std::string& path) {
    if (!node.IsDefined()) return std::nullopt;
    if (node.IsScalar()) {
      for (const auto& e : enum_entries<E>()) {
        if (node.Scalar() == e.name) return e.value;
      }
    }
    error(path, node,
          fmt::format("expected one of {}, got {}", enum_choices<E>(), describe(node)));
    return std::nullopt;
  }

  static SpecLocation where(const Map& m) { return {m.path(), m.line()}; }
};

// ---- sections ---------------------------------------------------------------------------

DataSpec read_data(Reader& r, const YAML::Node& node, int parent_line) {
  DataSpec data;
  auto m = r.map(node, "data", parent_line);
  data.where = Reader::where(m);
  r.list(m.require("classes"), "data.classes", [&](const YAML::Node& n, const std::string& p) {
    if (auto c = r.enumeration<DataClass>(n, p)) data.classes.push_back(*c);
  });
  if (auto classes = m.get("classes"); classes.IsSequence() && classes.size() == 0) {
    r.error("data.classes", classes, "must name at least one data class");
  }
  r.list(m.get("sources"), "data.sources", [&](const YAML::Node& n, const std::string& p) {
    auto s = r.item(n, p);
    if (!s.valid()) return;
    DataSource src;
    src.where = Reader::where(s);
    if (auto v = r.identifier(s.require("id"), p + ".id")) src.id = *v;
    if (auto v = r.enumeration<SourceKind>(s.require("kind"), p + ".kind")) src.kind = *v;
    if (auto v = r.string(s.get("path"), p + ".path")) src.path = *v;
    if (auto v = r.enumeration<Access>(s.get("access"), p + ".access")) src.access = *v;
    s.finish();
    data.sources.push_back(std::move(src));
  });
  if (auto v = r.enumeration<Retention>(m.get("raw_input_retention"), "data.raw_input_retention")) {
    data.raw_input_retention = *v;
  }
  m.finish();
  return data;
}

std::optional<PrincipalLimits> read_principal_limits(Reader& r, const YAML::Node& node,
                                                     const std::string& p) {
  auto lm = r.map(node, p, yaml_line_of(node));
  if (!lm.valid()) return std::nullopt;
  PrincipalLimits limits;
  limits.requests_per_minute =
      r.non_negative(lm.get("requests_per_minute"), p + ".requests_per_minute").value_or(0);
  limits.tokens_per_minute =
      r.non_negative(lm.get("tokens_per_minute"), p + ".tokens_per_minute").value_or(0);
  limits.max_concurrent = r.integer(lm.get("max_concurrent"), p + ".max_concurrent", 0).value_or(0);
  limits.models = r.string_list(lm.get("models"), p + ".models");
  lm.finish();
  return limits;
}

std::optional<Principal> read_principal(Reader& r, const YAML::Node& node, const std::string& p) {
  auto pm = r.item(node, p);
  if (!pm.valid()) return std::nullopt;
  Principal principal;
  principal.where = Reader::where(pm);
  if (auto v = r.identifier(pm.require("id"), p + ".id")) principal.id = *v;
  principal.roles = r.string_list(pm.get("roles"), p + ".roles");
  if (auto l = pm.get("limits"); l.IsDefined() && !l.IsNull()) {
    principal.limits = read_principal_limits(r, l, p + ".limits");
  }
  if (auto k = pm.get("public_key"); k.IsDefined() && !k.IsNull()) {
    if (auto v = r.string(k, p + ".public_key")) {
      auto key = parse_public_key(*v);
      if (key.ok()) {
        principal.public_key = *key;
      } else {
        r.error(p + ".public_key", k, key.status().message());
      }
    }
  }
  pm.finish();
  return principal;
}

std::optional<Tool> read_tool(Reader& r, const YAML::Node& node, const std::string& p) {
  auto tm = r.item(node, p);
  if (!tm.valid()) return std::nullopt;
  Tool tool;
  tool.where = Reader::where(tm);
  if (auto v = r.identifier(tm.require("name"), p + ".name")) tool.name = *v;
  if (auto v = r.string(tm.get("description"), p + ".description")) tool.description = *v;
  if (auto v = r.enumeration<Effect>(tm.require("effect"), p + ".effect")) tool.effect = *v;
  if (auto v = r.enumeration<Idempotency>(tm.get("idempotency"), p + ".idempotency")) {
    tool.idempotency = *v;
  }
  if (auto v = r.enumeration<Approval>(tm.get("approval"), p + ".approval")) tool.approval = *v;
  if (auto c = tm.get("condition"); c.IsDefined() && !c.IsNull()) {
    if (auto v = r.string(c, p + ".condition")) tool.condition = *v;
  }
  tool.roles = r.string_list(tm.get("roles"), p + ".roles");
  if (auto v = r.integer(tm.get("timeout_ms"), p + ".timeout_ms", 1)) tool.timeout_ms = *v;
  tool.approval_remind_after_s =
      r.positive(tm.get("approval_remind_after_s"), p + ".approval_remind_after_s");
  tool.approval_expire_after_s =
      r.positive(tm.get("approval_expire_after_s"), p + ".approval_expire_after_s");
  if (auto ar = tm.get("approver_roles"); ar.IsDefined()) {
    tool.approver_roles = r.string_list(ar, p + ".approver_roles");
    if (ar.IsSequence() && ar.size() == 0) {
      r.error(p + ".approver_roles", ar,
              "must name at least one role (leave it out for the default, [approver])");
    }
  }
  tm.finish();
  return tool;
}

std::optional<PolicyRule> read_policy_rule(Reader& r, const YAML::Node& node,
                                           const std::string& p) {
  auto pm = r.item(node, p);
  if (!pm.valid()) return std::nullopt;
  PolicyRule rule;
  rule.where = Reader::where(pm);
  if (auto v = r.identifier(pm.require("id"), p + ".id")) rule.id = *v;
  if (auto v = r.enumeration<PolicyEffect>(pm.require("effect"), p + ".effect")) rule.effect = *v;
  rule.roles = r.string_list(pm.get("roles"), p + ".roles");
  rule.tools = r.string_list(pm.require("tools"), p + ".tools");
  if (auto v = r.string(pm.get("when"), p + ".when")) rule.when = *v;
  if (auto v = r.string(pm.get("reason"), p + ".reason")) rule.reason = *v;
  pm.finish();
  return rule;
}

MemorySpec read_memory(Reader& r, const YAML::Node& node, int parent_line) {
  MemorySpec memory;
  auto mm = r.map(node, "authority.memory", parent_line);
  memory.where = Reader::where(mm);
  if (auto v = r.enumeration<MemoryWrites>(mm.get("writes"), "authority.memory.writes")) {
    memory.writes = *v;
  }
  if (auto s = mm.get("store"); s.IsDefined() && !s.IsNull()) {
    if (auto v = r.identifier(s, "authority.memory.store")) memory.store = *v;
  }
  mm.finish();
  return memory;
}

AuthoritySpec read_authority(Reader& r, const YAML::Node& node, int parent_line) {
  AuthoritySpec a;
  auto m = r.map(node, "authority", parent_line);
  a.where = Reader::where(m);
  r.list(m.get("principals"), "authority.principals",
         [&](const YAML::Node& n, const std::string& p) {
           if (auto principal = read_principal(r, n, p))
             a.principals.push_back(std::move(*principal));
         });
  r.list(m.get("tools"), "authority.tools", [&](const YAML::Node& n, const std::string& p) {
    if (auto tool = read_tool(r, n, p)) a.tools.push_back(std::move(*tool));
  });
  r.list(m.get("policy"), "authority.policy", [&](const YAML::Node& n, const std::string& p) {
    if (auto rule = read_policy_rule(r, n, p)) a.policy.push_back(std::move(*rule));
  });
  a.memory = read_memory(r, m.get("memory"), m.line());
  if (auto w = m.get("workflow"); w.IsDefined() && !w.IsNull()) {
    if (auto v = r.identifier(w, "authority.workflow")) a.workflow = *v;
  }
  if (auto s = m.get("system_of_record"); s.IsDefined() && !s.IsNull()) {
    if (auto v = r.identifier(s, "authority.system_of_record")) a.system_of_record = *v;
  }
  {
    YAML::Node u = m.get("unsigned_approvals");
    a.unsigned_approvals_where = {"authority.unsigned_approvals",
                                  u.IsDefined() ? yaml_line_of(u) : m.line()};
    if (auto v = r.enumeration<UnsignedApprovals>(u, "authority.unsigned_approvals")) {
      a.unsigned_approvals = *v;
    }
  }
  m.finish();
  return a;
}

std::optional<LatencySlo> read_latency(Reader& r, const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || node.IsNull()) return std::nullopt;
  LatencySlo slo;
  slo.where = {path, yaml_line_of(node)};
  if (node.IsScalar()) {  // `ttft_ms: 2000` parses, and K010 explains why it is not enough
    slo.bare = r.non_negative(node, path);
    return slo;
  }
  auto m = r.map(node, path, yaml_line_of(node));
  if (!m.valid()) return std::nullopt;
  slo.p50 = r.non_negative(m.get("p50"), path + ".p50");
  slo.p90 = r.non_negative(m.get("p90"), path + ".p90");
  slo.p95 = r.non_negative(m.get("p95"), path + ".p95");
  slo.p99 = r.non_negative(m.get("p99"), path + ".p99");
  slo.mean = r.non_negative(m.get("mean"), path + ".mean");
  slo.max = r.non_negative(m.get("max"), path + ".max");
  m.finish();
  return slo;
}

std::optional<Distribution> read_distribution(Reader& r, const YAML::Node& node,
                                              const std::string& path) {
  if (!node.IsDefined() || node.IsNull()) return std::nullopt;
  Distribution d;
  if (node.IsScalar()) {
    d.p50 = r.non_negative(node, path);
    return d;
  }
  auto m = r.map(node, path, yaml_line_of(node));
  if (!m.valid()) return std::nullopt;
  d.p50 = r.non_negative(m.get("p50"), path + ".p50");
  d.p95 = r.non_negative(m.get("p95"), path + ".p95");
  d.p99 = r.non_negative(m.get("p99"), path + ".p99");
  d.max = r.non_negative(m.get("max"), path + ".max");
  m.finish();
  return d;
}

SloSpec read_slo(Reader& r, const YAML::Node& node, int parent_line) {
  SloSpec slo;
  slo.present = node.IsDefined() && !node.IsNull();
  auto m = r.map(node, "slo", parent_line);
  slo.where = Reader::where(m);
  slo.ttft_ms = read_latency(r, m.get("ttft_ms"), "slo.ttft_ms");
  slo.tpot_ms = read_latency(r, m.get("tpot_ms"), "slo.tpot_ms");
  slo.e2e_ms = read_latency(r, m.get("e2e_ms"), "slo.e2e_ms");
  slo.latency_ms = read_latency(r, m.get("latency_ms"), "slo.latency_ms");
  if (auto w = m.get("workload"); w.IsDefined() && !w.IsNull()) {
    auto wm = r.map(w, "slo.workload", yaml_line_of(w));
    if (wm.valid()) {
      Workload workload;
      workload.where = Reader::where(wm);
      workload.rps = r.non_negative(wm.get("rps"), "slo.workload.rps");
      workload.concurrency = r.integer(wm.get("concurrency"), "slo.workload.concurrency", 1);
      workload.prompt_tokens =
          read_distribution(r, wm.get("prompt_tokens"), "slo.workload.prompt_tokens");
      workload.output_tokens =
          read_distribution(r, wm.get("output_tokens"), "slo.workload.output_tokens");
      workload.input_bytes = read_distribution(r, wm.get("input_bytes"), "slo.workload.input_bytes");
      wm.finish();
      slo.workload = std::move(workload);
    }
  }
  m.finish();
  return slo;
}

// `egress: none` or `egress: {allow: [host, ...]}`.
Egress read_egress(Reader& r, const YAML::Node& egress, int parent_line) {
  Egress e;
  e.where = {"deployment.egress", egress.IsDefined() ? yaml_line_of(egress) : parent_line};
  if (egress.IsScalar()) {
    if (egress.Scalar() == "none") {
      e.none = true;
    } else {
      r.error("deployment.egress", egress,
              fmt::format("expected 'none' or a mapping {{allow: [host, ...]}}, got '{}'",
                          egress.Scalar()));
    }
  } else if (egress.IsMap()) {
    auto em = r.map(egress, "deployment.egress", yaml_line_of(egress));
    e.none = false;
    e.allow = r.string_list(em.require("allow"), "deployment.egress.allow");
    em.finish();
  } else if (egress.IsDefined()) {
    r.error("deployment.egress", egress,
            fmt::format("expected 'none' or a mapping {{allow: [host, ...]}}, got {}",
                        Reader::describe(egress)));
  }
  return e;
}

Telemetry read_telemetry(Reader& r, const YAML::Node& t, int parent_line) {
  Telemetry telemetry;
  if (!t.IsDefined()) {
    telemetry.where = {"deployment.telemetry", parent_line};
    return telemetry;
  }
  auto tm = r.map(t, "deployment.telemetry", yaml_line_of(t));
  telemetry.where = Reader::where(tm);
  if (auto v = r.enumeration<TelemetrySink>(tm.require("sink"), "deployment.telemetry.sink")) {
    telemetry.sink = *v;
  }
  if (auto v = r.string(tm.get("endpoint"), "deployment.telemetry.endpoint")) {
    telemetry.endpoint = *v;
  }
  tm.finish();
  if (telemetry.sink == TelemetrySink::otlp && telemetry.endpoint.empty()) {
    r.error("deployment.telemetry.endpoint", t, "required when sink is otlp");
  }
  return telemetry;
}

// `sha256:` must be 64 lower-case hex digits; anything else is reported and left unset.
void read_model_sha256(Reader& r, Reader::Map& mm, const std::string& p, ModelSpec& model) {
  if (auto v = r.string(mm.get("sha256"), p + ".sha256")) {
    bool hex = v->size() == 64 && std::all_of(v->begin(), v->end(), [](unsigned char c) {
                 return std::isdigit(c) || (c >= 'a' && c <= 'f');
               });
    if (!hex) {
      r.error(p + ".sha256", mm.get("sha256"), "expected 64 lower-case hex digits");
    } else {
      model.sha256 = *v;
    }
  }
}

// A local model without `format:` takes it from its file name's extension.
void infer_model_format(Reader& r, const YAML::Node& n, const std::string& p, ModelSpec& model) {
  if (!model.format.empty() || model.runs != ModelPlacement::local) return;
  std::string_view file = model.path.empty() ? model.url : model.path;
  if (file.ends_with(".gguf")) {
    model.format = "gguf";
  } else if (file.ends_with(".onnx")) {
    model.format = "onnx";
  } else if (file.ends_with(".kprog") || file.ends_with(".keel")) {
    model.format = "keel-program";
  } else {
    r.error(p + ".format", n,
            "cannot tell the model format from the file name; add format: "
            "gguf|onnx|keel-program");
  }
}

std::optional<ModelSpec> read_model(Reader& r, const YAML::Node& n, const std::string& p) {
  auto mm = r.item(n, p);
  if (!mm.valid()) return std::nullopt;
  ModelSpec model;
  model.where = Reader::where(mm);
  if (auto v = r.identifier(mm.require("id"), p + ".id")) model.id = *v;
  if (auto v = r.string(mm.get("path"), p + ".path")) model.path = *v;
  if (auto v = r.string(mm.get("url"), p + ".url")) model.url = *v;
  if (auto v = r.enumeration<ModelPlacement>(mm.get("runs"), p + ".runs")) model.runs = *v;
  read_model_sha256(r, mm, p, model);
  if (auto f = mm.get("format"); f.IsDefined()) {
    if (auto v = r.string(f, p + ".format")) {
      if (*v != "gguf" && *v != "onnx" && *v != "keel-program") {
        r.error(p + ".format", f,
                fmt::format("expected one of gguf|onnx|keel-program, got '{}'", *v));
      }
      model.format = *v;
    }
  }
  if (auto v = r.enumeration<ModelRole>(mm.require("role"), p + ".role")) model.role = *v;
  model.max_ram_mb = r.integer(mm.get("max_ram_mb"), p + ".max_ram_mb", 1);
  model.fallbacks = r.string_list(mm.get("fallbacks"), p + ".fallbacks");
  if (auto classes = mm.get("classes"); classes.IsDefined()) {
    r.list(classes, p + ".classes", [&](const YAML::Node& c, const std::string& cp) {
      if (auto v = r.enumeration<DataClass>(c, cp)) model.classes.push_back(*v);
    });
    if (classes.IsSequence() && classes.size() == 0) r.error(p + ".classes", classes, "must name at least one data class");
  }
  r.list(mm.get("capabilities"), p + ".capabilities", [&](const YAML::Node& c, const std::string& cp) {
    if (auto v = r.identifier(c, cp)) model.capabilities.push_back(*v);
  });
  model.estimate_ms = r.positive(mm.get("estimate_ms"), p + ".estimate_ms");
  mm.finish();
  if (model.path.empty() && model.url.empty()) {
    r.error(p + ".path", n, "a model needs a path (or a url for a client-side download)");
  }
  if (model.runs == ModelPlacement::remote && model.url.empty()) {
    r.error(p + ".url", n, "a remote model needs the url of its endpoint");
  }
  infer_model_format(r, n, p, model);
  return model;
}

DeploymentSpec read_deployment(Reader& r, const YAML::Node& node, int parent_line) {
  DeploymentSpec d;
  auto m = r.map(node, "deployment", parent_line);
  d.where = Reader::where(m);
  if (auto v = r.enumeration<Target>(m.require("target"), "deployment.target")) d.target = *v;
  d.egress = read_egress(r, m.require("egress"), m.line());
  if (auto v = r.enumeration<RemoteFallback>(m.get("remote_fallback"), "deployment.remote_fallback")) {
    d.remote_fallback = *v;
  }
  {
    YAML::Node rr = m.get("remote_readers");
    d.remote_readers_where = {"deployment.remote_readers", rr.IsDefined() ? yaml_line_of(rr) : m.line()};
    if (auto v = r.enumeration<RemoteReaders>(rr, "deployment.remote_readers"))
      d.remote_readers = *v;
  }
  d.telemetry = read_telemetry(r, m.get("telemetry"), m.line());
  r.list(m.get("models"), "deployment.models", [&](const YAML::Node& n, const std::string& p) {
    if (auto model = read_model(r, n, p)) d.models.push_back(std::move(*model));
  });
  m.finish();
  return d;
}

FailureSpec read_failure(Reader& r, const YAML::Node& node, int parent_line) {
  FailureSpec f;
  f.present = node.IsDefined() && !node.IsNull();
  auto m = r.map(node, "failure", parent_line);
  f.where = Reader::where(m);
  if (auto v = r.enumeration<OnModelUnfit>(m.get("on_model_unfit"), "failure.on_model_unfit")) {
    f.on_model_unfit = *v;
  }
  if (auto o = m.get("on_overload"); o.IsDefined() && !o.IsNull()) {
    auto om = r.map(o, "failure.on_overload", yaml_line_of(o));
    if (om.valid()) {
      OverloadPolicy policy;
      if (auto v = r.integer(om.get("status"), "failure.on_overload.status", 100)) {
        if (*v != 429 && *v != 503) {
          r.error("failure.on_overload.status", om.get("status"),
                  fmt::format("expected 429 or 503, got {}", *v));
        }
        policy.status = static_cast<int>(*v);
      }
      if (auto v = r.non_negative(om.get("retry_after_s"), "failure.on_overload.retry_after_s")) {
        policy.retry_after_s = *v;
      }
      om.finish();
      f.on_overload = policy;
    }
  }
  if (auto v = r.enumeration<OnRouteUnavailable>(m.get("on_route_unavailable"),
                                                 "failure.on_route_unavailable")) {
    f.on_route_unavailable = *v;
    f.on_route_unavailable_set = true;
  }
  YAML::Node inject = m.get("inject");
  f.inject_where = {"failure.inject", inject.IsDefined() ? yaml_line_of(inject) : m.line()};
  r.list(inject, "failure.inject", [&](const YAML::Node& n, const std::string& p) {
    if (auto v = r.enumeration<Fault>(n, p)) {
      if (std::find(f.inject.begin(), f.inject.end(), *v) != f.inject.end()) {
        r.error(p, n, fmt::format("fault '{}' listed twice", enum_name(*v)));
      } else {
        f.inject.push_back(*v);
      }
    }
  });
  m.finish();
  return f;
}

SyncSpec read_sync(Reader& r, const YAML::Node& node) {
  SyncSpec s;
  s.present = node.IsDefined() && !node.IsNull();
  auto m = r.map(node, "sync", 1);
  s.where = Reader::where(m);
  if (!m.valid()) return s;
  if (auto v = r.enumeration<ConflictRule>(m.get("default"), "sync.default")) s.fallback = *v;
  if (auto rules = m.get("rules"); rules.IsDefined()) {
    if (!rules.IsMap()) {
      r.error("sync.rules", rules, "must map \"collection.field\" or \"field\" to a rule");
    } else {
      for (const auto& kv : rules) {
        const std::string field = kv.first.as<std::string>();
        const std::string path = "sync.rules." + field;
        r.key_lines[path] = kv.first.Mark().line + 1;
        const bool plain = !field.empty() && field.size() <= 129 &&
                           std::all_of(field.begin(), field.end(), [](char c) {
                             return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
                           });
        if (!plain) r.error(path, kv.first, "a field is \"collection.field\" or \"field\" of [A-Za-z0-9._-]");
        if (auto v = r.enumeration<ConflictRule>(kv.second, path)) s.rules.emplace_back(field, *v);
      }
    }
  }
  m.finish();
  return s;
}

RoutingSpec read_routing(Reader& r, const YAML::Node& node) {
  RoutingSpec s;
  s.present = node.IsDefined() && !node.IsNull();
  auto m = r.map(node, "routing", 1);
  s.where = Reader::where(m);
  if (!m.valid()) return s;
  if (auto probe = m.get("probe"); probe.IsDefined()) {
    auto pm = r.map(probe, "routing.probe", m.line());
    if (auto v = r.string(pm.get("path"), "routing.probe.path")) {
      if (v->empty() || (*v)[0] != '/') r.error("routing.probe.path", pm.get("path"), "must start with '/'");
      s.probe_path = *v;
    }
    if (auto v = r.positive(pm.get("deadline_ms"), "routing.probe.deadline_ms")) s.probe_deadline_ms = *v;
    pm.finish();
  }
  r.list(m.get("consent"), "routing.consent", [&](const YAML::Node& c, const std::string& cp) {
    if (auto v = r.enumeration<DataClass>(c, cp)) s.consent.push_back(*v);
  });
  if (auto tasks = m.get("tasks"); tasks.IsDefined()) {
    if (!tasks.IsMap()) {
      r.error("routing.tasks", tasks, "must map each task type to {class, needs, deadline_ms}");
    } else {
      for (const auto& kv : tasks) {
        RoutedTask t;
        t.type = kv.first.as<std::string>();
        const std::string path = "routing.tasks." + t.type;
        auto tm = r.map(kv.second, path, kv.first.Mark().line + 1);
        t.where = Reader::where(tm);
        if (!tm.valid()) {
          if (!kv.second.IsMap()) r.error(path, kv.second, "must be a mapping {class, needs, deadline_ms}");
          continue;
        }
        if (auto v = r.enumeration<DataClass>(tm.require("class"), path + ".class")) t.data_class = *v;
        r.list(tm.get("needs"), path + ".needs", [&](const YAML::Node& c, const std::string& cp) {
          if (auto v = r.identifier(c, cp)) t.needs.push_back(*v);
        });
        t.deadline_ms = r.positive(tm.get("deadline_ms"), path + ".deadline_ms").value_or(0);
        tm.finish();
        s.tasks.push_back(std::move(t));
      }
    }
  }
  m.finish();
  return s;
}

BrowserSpec read_browser(Reader& r, const YAML::Node& node) {
  BrowserSpec s;
  s.present = node.IsDefined() && !node.IsNull();
  auto m = r.map(node, "browser", 1);
  s.where = Reader::where(m);
  if (!m.valid()) return s;
  if (auto v = r.string(m.get("app"), "browser.app")) s.app = *v;
  if (auto v = r.string(m.get("signer"), "browser.signer")) {
    auto key = parse_public_key(*v);
    if (key.ok()) {
      s.signer = *key;
    } else {
      r.error("browser.signer", m.get("signer"), key.status().message());
    }
  }
  r.list(m.get("categories"), "browser.categories", [&](const YAML::Node& c, const std::string& cp) {
    if (auto v = r.identifier(c, cp)) s.categories.push_back(*v);
  });
  if (auto providers = m.get("providers"); providers.IsDefined()) {
    s.providers.clear();
    r.list(providers, "browser.providers", [&](const YAML::Node& c, const std::string& cp) {
      auto v = r.string(c, cp);
      if (!v) return;
      if (*v != "webnn" && *v != "webgpu" && *v != "wasm") {
        r.error(cp, c, "a provider is webnn, webgpu or wasm");
      } else {
        s.providers.push_back(*v);
      }
    });
  }
  if (auto v = r.integer(m.get("min_device_memory_mb"), "browser.min_device_memory_mb", 0))
    s.min_device_memory_mb = *v;
  if (auto v = r.string(m.get("remote_endpoint"), "browser.remote_endpoint")) {
    if (v->empty() || (*v)[0] != '/')
      r.error("browser.remote_endpoint", m.get("remote_endpoint"),
              "must be a path on the app's own origin (start with '/')");
    s.remote_endpoint = *v;
  }
  m.finish();
  return s;
}

EdgeSpec read_edge(Reader& r, const YAML::Node& node) {
  EdgeSpec s;
  s.present = node.IsDefined() && !node.IsNull();
  auto m = r.map(node, "edge", 1);
  s.where = Reader::where(m);
  if (!m.valid()) return s;
  if (auto v = r.non_negative(m.get("min_delegate_coverage"), "edge.min_delegate_coverage")) {
    if (*v > 1) r.error("edge.min_delegate_coverage", m.get("min_delegate_coverage"), "a share: 0 to 1");
    s.min_delegate_coverage = *v;
  }
  if (auto v = r.integer(m.get("max_partitions"), "edge.max_partitions", 0)) s.max_partitions = *v;
  if (auto v = r.non_negative(m.get("throttle_celsius"), "edge.throttle_celsius")) s.throttle_celsius = *v;
  if (auto v = r.non_negative(m.get("critical_celsius"), "edge.critical_celsius")) s.critical_celsius = *v;
  if (s.critical_celsius <= s.throttle_celsius)
    r.error("edge.critical_celsius", m.get("critical_celsius"), "must be above edge.throttle_celsius");
  if (auto v = r.string(m.get("update_signer"), "edge.update_signer")) {
    auto key = parse_public_key(*v);
    if (key.ok()) {
      s.update_signer = *key;
    } else {
      r.error("edge.update_signer", m.get("update_signer"), key.status().message());
    }
  }
  m.finish();
  return s;
}

ServingSpec read_serving(Reader& r, const YAML::Node& node) {
  ServingSpec s;
  s.present = node.IsDefined() && !node.IsNull();
  auto m = r.map(node, "serving", 1);
  s.where = Reader::where(m);
  if (!m.valid()) return s;
  if (auto v = r.string(m.get("host"), "serving.host")) s.host = *v;
  if (auto v = r.integer(m.get("port"), "serving.port", 0)) {
    if (*v > 65535) r.error("serving.port", m.get("port"), "must be at most 65535");
    s.port = *v;
  }
  if (auto v = r.integer(m.get("max_running"), "serving.max_running", 1)) s.max_running = *v;
  if (auto v = r.integer(m.get("max_waiting"), "serving.max_waiting", 0)) s.max_waiting = *v;
  if (auto v = r.integer(m.get("max_queued_tokens"), "serving.max_queued_tokens", 0)) s.max_queued_tokens = *v;
  if (auto v = r.integer(m.get("context_tokens"), "serving.context_tokens", 16)) s.context_tokens = *v;
  if (auto v = r.integer(m.get("max_tokens_limit"), "serving.max_tokens_limit", 1)) s.max_tokens_limit = *v;
  if (auto v = r.integer(m.get("step_token_budget"), "serving.step_token_budget", 1)) s.step_token_budget = *v;
  if (auto v = r.boolean(m.get("prefix_caching"), "serving.prefix_caching")) s.prefix_caching = *v;
  if (auto v = r.string(m.get("api_keys"), "serving.api_keys")) s.api_keys = *v;
  if (auto v = r.non_negative(m.get("grace_period_s"), "serving.grace_period_s")) s.grace_period_s = *v;
  if (auto v = r.non_negative(m.get("max_queue_wait_ms"), "serving.max_queue_wait_ms")) s.max_queue_wait_ms = *v;
  if (auto v = r.integer(m.get("max_connections"), "serving.max_connections", 1)) s.max_connections = *v;
  if (auto v = r.integer(m.get("max_connections_per_peer"), "serving.max_connections_per_peer", 0)) {
    s.max_connections_per_peer = *v;
  }
  if (auto v = r.integer(m.get("header_timeout_ms"), "serving.header_timeout_ms", 1)) s.header_timeout_ms = *v;
  if (auto v = r.integer(m.get("body_timeout_ms"), "serving.body_timeout_ms", 1)) s.body_timeout_ms = *v;
  if (auto v = r.integer(m.get("idle_timeout_ms"), "serving.idle_timeout_ms", 1)) s.idle_timeout_ms = *v;
  m.finish();
  return s;
}

// issuer, audience, jwks and claims: only an identity provider's (contract in spec.h).
void read_identity_settings(Reader& r, YamlReader::Map& cm, const std::string& p, Component& c) {
  IdentitySettings id;
  for (const char* key : {"issuer", "audience", "jwks", "claims"}) {
    if (auto node = cm.get(key); node.IsDefined() && c.kind != ComponentKind::identity_provider)
      r.error(p + "." + key, node, fmt::format("only an identity-provider component takes '{}'", key));
  }
  if (c.kind != ComponentKind::identity_provider) return;
  if (auto v = r.string(cm.get("issuer"), p + ".issuer")) id.issuer = *v;
  if (id.issuer.empty()) id.issuer = c.url;
  if (auto v = r.string(cm.get("audience"), p + ".audience")) id.audience = *v;
  if (auto v = r.string(cm.get("jwks"), p + ".jwks")) id.jwks = *v;
  if (auto claims = cm.get("claims"); claims.IsDefined()) {
    auto m = r.map(claims, p + ".claims", cm.line());
    if (auto v = r.string(m.get("principal"), p + ".claims.principal")) id.principal_claim = *v;
    if (auto v = r.string(m.get("tenant"), p + ".claims.tenant")) id.tenant_claim = *v;
    if (auto v = r.string(m.get("roles"), p + ".claims.roles")) id.roles_claim = *v;
    m.finish();
  }
  c.identity = std::move(id);
}

std::vector<Component> read_components(Reader& r, const YAML::Node& node) {
  std::vector<Component> out;
  r.list(node, "components", [&](const YAML::Node& n, const std::string& p) {
    auto cm = r.item(n, p);
    if (!cm.valid()) return;
    Component c;
    c.where = Reader::where(cm);
    if (auto v = r.identifier(cm.require("id"), p + ".id")) c.id = *v;
    if (auto v = r.enumeration<ComponentKind>(cm.require("kind"), p + ".kind")) c.kind = *v;
    if (auto v = r.string(cm.get("path"), p + ".path")) c.path = *v;
    if (auto v = r.string(cm.get("url"), p + ".url")) c.url = *v;
    if (auto v = r.identifier(cm.get("provider"), p + ".provider")) c.provider = *v;
    c.durable = r.boolean(cm.get("durable"), p + ".durable");
    read_identity_settings(r, cm, p, c);
    cm.finish();
    out.push_back(std::move(c));
  });
  return out;
}

// Ids must be unique within each list; a second one is reported where it stands.
template <typename T, typename GetId>
void check_unique(Reader& r, const std::vector<T>& items, GetId get_id, const char* what) {
  std::set<std::string> seen;
  for (const auto& item : items) {
    const std::string& id = get_id(item);
    if (id.empty()) continue;
    if (!seen.insert(id).second) {
      r.errors.push_back({item.where.path, item.where.line,
                          fmt::format("duplicate {} '{}'", what, id)});
    }
  }
}

}  // namespace

namespace {

SpecErrors one_error(int line, std::string message) { return {SpecError{"", line, std::move(message)}}; }

// The top-level keys and the sections, then the names that must be unique.
void read_spec(Reader& r, const YAML::Node& root, Spec& spec) {
  Reader::Map top(&r, root, "", 1);
  if (auto v = r.integer(top.require("keel"), "keel", 0)) {
    if (*v != 1) {
      r.error("keel", top.get("keel"),
              fmt::format("unsupported spec version {}; this keel reads version 1", *v));
    }
    spec.version = static_cast<int>(*v);
  }
  if (auto v = r.identifier(top.require("name"), "name")) spec.name = *v;
  if (auto v = r.string(top.get("description"), "description")) spec.description = *v;
  if (auto v = r.enumeration<ScenarioId>(top.require("scenario"), "scenario")) spec.scenario = *v;
  spec.data = read_data(r, top.require("data"), 1);
  spec.authority = read_authority(r, top.get("authority"), 1);
  spec.slo = read_slo(r, top.get("slo"), 1);
  spec.deployment = read_deployment(r, top.require("deployment"), 1);
  spec.failure = read_failure(r, top.get("failure"), 1);
  spec.serving = read_serving(r, top.get("serving"));
  spec.sync = read_sync(r, top.get("sync"));
  spec.routing = read_routing(r, top.get("routing"));
  spec.browser = read_browser(r, top.get("browser"));
  spec.edge = read_edge(r, top.get("edge"));
  spec.components = read_components(r, top.get("components"));
  top.finish();

  auto id = [](const auto& x) -> const std::string& { return x.id; };
  check_unique(r, spec.data.sources, id, "source id");
  check_unique(r, spec.authority.principals, id, "principal id");
  check_unique(r, spec.authority.tools, [](const Tool& t) -> const std::string& { return t.name; },
               "tool name");
  check_unique(r, spec.deployment.models, id, "model id");
  check_unique(r, spec.components, id, "component id");
  spec.key_lines = std::move(r.key_lines);
}

}  // namespace

ParsedSpec parse_spec_text(std::string_view yaml, std::string base_dir, std::string file_name) {
  if (yaml.size() > kMaxSpecBytes) {
    return one_error(0, fmt::format("spec is {} bytes; the limit is {} bytes", yaml.size(),
                                    kMaxSpecBytes));
  }
  if (auto bad = first_invalid_utf8(yaml)) {
    int line = 1 + static_cast<int>(std::count(yaml.begin(), yaml.begin() + *bad, '\n'));
    return one_error(line, fmt::format("spec is not valid UTF-8 at byte {}", *bad));
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return one_error(e.mark.is_null() ? 0 : e.mark.line + 1,
                     fmt::format("YAML syntax error: {}", e.msg));
  }
  if (!root.IsDefined() || root.IsNull()) return one_error(1, "spec is empty");
  if (!root.IsMap())
    return one_error(yaml_line_of(root), "a spec is a YAML mapping (keel: 1, name: ..., ...)");
  Reader r;
  Spec spec;
  spec.file = std::move(file_name);
  spec.base_dir = std::move(base_dir);
  try {
    read_spec(r, root, spec);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on a few malformed shapes (e.g. aliases to odd nodes); never crash.
    r.errors.push_back({"", e.mark.is_null() ? 0 : e.mark.line + 1,
                        fmt::format("cannot read spec: {}", e.msg)});
  }
  if (r.errors.empty()) return spec;
  std::stable_sort(r.errors.begin(), r.errors.end(),
                   [](const YamlError& a, const YamlError& b) { return a.line < b.line; });
  SpecErrors errors;
  for (auto& e : r.errors) errors.push_back({std::move(e.path), e.line, std::move(e.message)});
  return errors;
}

ParsedSpec parse_spec_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return one_error(0, fmt::format("cannot read spec file {}: {}", path,
                                    std::filesystem::exists(path, ec) ? "not a regular file"
                                                                      : "no such file"));
  }
  auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxSpecBytes) {
    return one_error(0, fmt::format("spec file {} is {} bytes; the limit is {} bytes", path, size,
                                    kMaxSpecBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return one_error(0, fmt::format("cannot read spec file {}: {}", path, std::strerror(errno)));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string base = std::filesystem::path(path).parent_path().string();
  return parse_spec_text(buffer.str(), base.empty() ? "." : base, path);
}

Result<Spec> load_spec(const std::string& path) {
  ParsedSpec parsed = parse_spec_file(path);
  if (parsed.ok()) return std::move(*parsed);
  std::string message = fmt::format("{} is not a valid keel spec:", path);
  for (const auto& e : parsed.error()) message += "\n  " + e.to_string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::not_found(message);
  return Status::invalid_argument(message);
}

}  // namespace keel::contract
