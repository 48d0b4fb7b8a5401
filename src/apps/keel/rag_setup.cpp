#include "apps/keel/rag_setup.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdio>

#include "assistant/answer_quality.h"
#include "contract/egress_guard.h"
#include "rag/audit_log.h"
#include "samples/warehouse.h"
#include "core/file_io.h"

namespace keel::app {

void add_composer_options(CLI::App& cmd, ComposerChoice& o) {
  cmd.add_option("--composer", o.mode,
                 "who writes an answer's text: auto (the model when its evaluation record shows at least 50% "
                 "correct), model (the spec's generate model approved for the answer's data class, its figures "
                 "checked against the evidence) or template")
      ->check(CLI::IsMember({"auto", "model", "template"}))
      ->capture_default_str();
  cmd.add_option("--max-tokens", o.max_tokens, "most tokens the model writes per answer")
      ->check(CLI::Range(int64_t{1}, int64_t{1024}))
      ->capture_default_str();
}

Result<rag::AnswerServiceOptions> answer_options(const contract::Spec& spec, const ComposerChoice& o) {
  rag::AnswerServiceOptions options;
  auto templates = [&](std::string reason) {
    options.composer_reason = std::move(reason);
    return options;
  };
  if (o.mode == "template") return templates("--composer template: answers are composed from templates");
  const contract::ModelSpec* first = nullptr;
  for (const auto& m : spec.deployment.models)
    if (!first && m.role == contract::ModelRole::generate && m.runs == contract::ModelPlacement::local) first = &m;
  if (!first) return templates("the spec has no local generate model; answers are composed from templates");
  const std::string path = first->path.empty() || first->path[0] == '/' ? first->path : spec.base_dir + "/" + first->path;
  if (o.mode == "auto") {
    KEEL_ASSIGN_OR_RETURN(auto record, assistant::current_answer_quality(path));
    if (!record)
      return templates(fmt::format("{} has no evaluation record; answers are composed from templates "
                                   "(--composer model lets it write them)", first->id));
    if (record->answered_correctly < o.quality_floor)
      return templates(fmt::format("{} answered {:.0f}% of its evaluation ({}) correctly, under the {:.0f}% floor; "
                                   "answers are composed from templates (--composer model lets it write them)",
                                   first->id, 100 * record->answered_correctly, record->scenario, 100 * o.quality_floor));
  }
  std::fprintf(stderr, "keel rag: loading the answer model(s) of %s\n", spec.file.c_str());
  rag::ComposerOptions composer;
  composer.max_tokens = o.max_tokens;
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<rag::ModelRouter> router, rag::ModelRouter::open(spec, composer));
  options.router = std::move(router);
  return templates("the model approved for the answer's data class writes it");
}

void add_identity_options(CLI::App& cmd, RagIdentityOptions& o) {
  auto set = [&cmd](const std::string& name, std::optional<std::string>& to, const std::string& help) {
    cmd.add_option_function<std::string>(name, [&to](const std::string& v) { to = v; }, help);
  };
  set("--jwks", o.jwks,
      "the identity provider's JSON Web Key Set: a file (re-read when it changes) or an https:// URL the spec's "
      "egress allow-list names (fetched again when a token fails); default: the spec identity provider's jwks");
  cmd.add_option("--jwks-min-refetch-s", o.jwks_min_refetch_s, "a --jwks URL is fetched again at most this often")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  set("--issuer", o.issuer, "expected iss claim (default: the spec identity provider's issuer, else its url; \"\": not checked)");
  set("--audience", o.audience, "expected aud claim (default: the spec identity provider's audience; \"\": not checked)");
  set("--principal-claim", o.principal_claim, "claim naming the principal (default: the spec's, else sub)");
  set("--tenant-claim", o.tenant_claim, "claim naming the tenant (default: the spec's, else tenant)");
  set("--roles-claim", o.roles_claim, "claim listing the roles (default: the spec's, else roles)");
}

Result<std::unique_ptr<rag::TokenAuthenticator>> make_authenticator(const RagIdentityOptions& o,
                                                                   const contract::Spec& spec) {
  contract::IdentitySettings idp;
  for (const auto& c : spec.components)
    if (c.identity) {
      idp = *c.identity;
      break;
    }
  std::string jwks = o.jwks.value_or(idp.jwks);
  if (jwks.empty())
    return Status::invalid_argument(fmt::format(
        "no key set: give --jwks, or name one in {}'s identity-provider component (jwks:)", spec.file));
  if (!o.jwks && !jwks.starts_with("https://") && !jwks.starts_with("http://") && jwks[0] != '/')
    jwks = spec.base_dir + "/" + jwks;
  semantic::ClaimMapping claims{o.principal_claim.value_or(idp.principal_claim), o.tenant_claim.value_or(idp.tenant_claim),
                                o.roles_claim.value_or(idp.roles_claim)};
  return rag::TokenAuthenticator::create(jwks, {o.issuer.value_or(idp.issuer), o.audience.value_or(idp.audience), 60},
                                         claims, o.jwks_min_refetch_s * 1000);
}

void add_warehouse_options(CLI::App& cmd, WarehouseOptions& o) {
  auto* uri = cmd.add_option("--warehouse", o.uri, "libpq URI of the warehouse, as its reader role");
  auto* dir = cmd.add_option("--pg-data", o.pg_data,
                             "run PostgreSQL in this folder (created with the sample warehouse on first use)");
  uri->excludes(dir);
  dir->excludes(uri);
}

Result<std::string> open_warehouse(const WarehouseOptions& o, std::unique_ptr<LocalPostgres>* cluster) {
  if (o.pg_data.empty()) {
    if (o.uri.empty()) return Status::invalid_argument("give --warehouse URI or --pg-data DIR");
    return o.uri;
  }
  auto progress = [](std::string_view line) { std::fprintf(stderr, "keel rag: %.*s\n", static_cast<int>(line.size()), line.data()); };
  KEEL_ASSIGN_OR_RETURN(*cluster, LocalPostgres::start(o.pg_data, progress));
  if ((*cluster)->created()) {
    progress("creating the sample warehouse (three tenants, their documents, the audit table)");
    KEEL_RETURN_IF_ERROR(samples::create_sample_warehouse((*cluster)->uri()));
    KEEL_RETURN_IF_ERROR(rag::install_audit_table((*cluster)->uri()));
  }
  return (*cluster)->uri("keel_reader");
}

Result<semantic::MetricCatalog> catalog_of(const contract::Spec& spec) {
  KEEL_ASSIGN_OR_RETURN(std::string path, catalog_path_of(spec));
  return semantic::load_metric_catalog(path);
}

Result<std::string> catalog_path_of(const contract::Spec& spec) {
  for (const auto& source : spec.data.sources) {
    if (source.kind != contract::SourceKind::semantic_layer) continue;
    return source.path.empty() || source.path[0] == '/' ? source.path : spec.base_dir + "/" + source.path;
  }
  return Status::failed_precondition(
      fmt::format("spec {} names no data source of kind semantic-layer (the metric catalog)", spec.file));
}

namespace {

// The host a libpq URI reaches ("" or a folder: a Unix socket).
Result<std::string> warehouse_host(const std::string& uri) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
  if (!options) {
    std::string message = error ? error : "cannot parse it";
    PQfreemem(error);
    return Status::invalid_argument("--warehouse: " + message);
  }
  std::string host;
  for (PQconninfoOption* o = options; o->keyword; ++o)
    if (std::string_view(o->keyword) == "host" && o->val) host = o->val;
  PQconninfoFree(options);
  return host;
}

bool is_unix_socket(const std::string& host) { return host.empty() || host[0] == '/'; }

}  // namespace

Status guard_for_warehouse(const contract::Spec& spec, const std::string& uri) {
  KEEL_RETURN_IF_ERROR(check_warehouse_host(spec, uri));
  KEEL_ASSIGN_OR_RETURN(std::string host, warehouse_host(uri));
  if (is_unix_socket(host)) return contract::install_egress_guard(contract::EgressGuardProfile::local_ipc);
  return Status();
}

Status check_warehouse_host(const contract::Spec& spec, const std::string& uri) {
  KEEL_ASSIGN_OR_RETURN(std::string host, warehouse_host(uri));
  if (is_unix_socket(host)) return Status();
  if (!spec.deployment.egress.none && spec.deployment.egress.allows(host)) return Status();
  return Status::permission_denied(fmt::format(
      "the warehouse host {} is not in deployment.egress.allow of {}: add it, or reach the "
      "warehouse over its Unix socket",
      host, spec.file));
}

Result<Json> read_request_arg(const std::string& arg) {
  std::string text = arg;
  if (!text.empty() && text[0] == '@') {
    KEEL_ASSIGN_OR_RETURN(text, read_file(text.substr(1), 1 << 20));
  }
  auto request = parse_json(text);
  if (!request.ok()) return Status::invalid_argument("--request is not JSON: " + request.status().message());
  return *std::move(request);
}

Result<std::string> read_token_file(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string token, read_file(path, 64 << 10));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
}

}  // namespace keel::app
