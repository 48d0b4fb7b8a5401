// keel rag serve and keel rag ask: the enterprise-rag answers (rag/answer_service.h).
//   keel rag serve --jwks FILE (--warehouse URI | --pg-data DIR) [--spec SPEC] [--host H] [--port P] [--threads N]
//                  [--composer auto|model|template]
//     serves POST /v1/answers and the OpenAI-compatible POST /v1/chat/completions to bearer
//     tokens of the identity provider whose keys --jwks holds.
//   keel rag ask --token FILE --jwks FILE (--warehouse URI | --pg-data DIR) ["question" | --request JSON] [--json]
//     one answer, for the token's asker. Exit 0 answered, 4 a typed limitation, 5 declined,
//     1 refused or failed.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "apps/keel/commands.h"
#include "apps/keel/example_paths.h"
#include "apps/keel/rag_setup.h"
#include "contract/checks.h"
#include "contract/egress_guard.h"
#include "contract/spec_parser.h"
#include "core/file_io.h"
#include "core/json.h"
#include "rag/answer_server.h"
#include "rag/answer_service.h"
#include "rag/catalog_source.h"

namespace keel::app {
namespace {

constexpr int kExitLimited = 4, kExitDeclined = 5;

struct ServeOptions {
  std::string spec, catalog, host = "127.0.0.1";
  WarehouseOptions warehouse;
  uint16_t port = 8090;
  size_t threads = 4, max_waiting = 64;
  RagIdentityOptions identity;
  ComposerChoice composer;
};

struct AskOptions {
  std::string spec, token, request, question;
  WarehouseOptions warehouse;
  RagIdentityOptions identity;
  ComposerChoice composer;
  bool json = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "keel rag: %s\n", message.c_str());
  return 1;
}

// The spec and its metric catalog (followed as its file changes).
struct RagDeployment {
  contract::Spec spec;
  std::shared_ptr<rag::CatalogSource> catalog;
};

Result<RagDeployment> open_deployment(const std::string& spec_path, const std::string& catalog_override = "") {
  KEEL_ASSIGN_OR_RETURN(contract::Spec spec, contract::load_spec(spec_path));
  for (const auto& c : contract::run_checks(spec)) {
    if (c.status == contract::CheckStatus::fail)
      return Status::failed_precondition(fmt::format("{} is refused: {} {}", spec_path, c.id, c.message));
  }
  std::string path = catalog_override;
  if (path.empty()) {
    KEEL_ASSIGN_OR_RETURN(path, catalog_path_of(spec));
  }
  KEEL_ASSIGN_OR_RETURN(auto catalog, rag::CatalogSource::open(path));
  contract::restrict_egress_to({&spec});  // Keel's own HTTP client: the allow-list only
  return RagDeployment{std::move(spec), std::move(catalog)};
}

int run_serve(const ServeOptions& o) {
  auto d = open_deployment(o.spec, o.catalog);
  if (!d.ok()) return fail(d.status().message());
  // The warehouse's host must be allowed; over a Unix socket it is this machine. (The seccomp
  // guard's profiles do not yet combine a listening socket with new Unix-socket connections.)
  std::unique_ptr<LocalPostgres> cluster;
  auto warehouse = open_warehouse(o.warehouse, &cluster);
  if (!warehouse.ok()) return fail(warehouse.status().message());
  if (Status s = check_warehouse_host(d->spec, *warehouse); !s.ok()) return fail(s.message());
  auto authenticator = make_authenticator(o.identity, d->spec);
  if (!authenticator.ok()) return fail("the identity provider's key set: " + authenticator.status().message());
  std::shared_ptr<rag::TokenAuthenticator> tokens = std::move(*authenticator);
  rag::AnswerServerOptions options;
  options.host = o.host;
  options.port = o.port;
  options.threads = o.threads;
  options.max_waiting = o.max_waiting;
  if (const auto& overload = d->spec.failure.on_overload) {
    options.overload_status = overload->status;
    options.retry_after_s = overload->retry_after_s;
  }
  options.authenticate = [tokens](std::string_view token) { return tokens->authenticate(token); };
  auto answers = answer_options(d->spec, o.composer);
  if (!answers.ok()) return fail(answers.status().message());
  std::shared_ptr<rag::CatalogSource> catalogs = d->catalog;
  options.open_service = [catalogs, uri = *warehouse, answers = *answers] {
    return rag::ConnectedAnswerService::open(catalogs, uri, answers);
  };
  const auto catalog = catalogs->current();
  auto server = rag::AnswerServer::create(std::move(options));
  if (!server.ok()) return fail(server.status().message());
  std::fprintf(stderr, "keel rag: metric catalog %s (%zu metrics; a changed file is read again), %zu worker(s)\n",
               catalog->version.c_str(), catalog->metrics.size(), o.threads);
  std::fprintf(stderr, "keel rag: %s\n", answers->composer_reason.c_str());
  std::fprintf(stderr, "keel rag: listening on http://%s:%u (POST /v1/answers, POST /v1/chat/completions)\n",
               o.host.c_str(), (*server)->port());
  (*server)->run();
  return 0;
}

void print_answer(const Json& a) {
  std::printf("%s\n", a["text"].get<std::string>().c_str());
  // One line per cited passage: its document and the byte spans quoted from it.
  const Json& passages = a["evidence"]["passages"];
  for (size_t i = 0; i < passages.size();) {
    const Json& p = passages[i];
    std::string spans;
    for (; i < passages.size() && passages[i]["source"] == p["source"]; ++i)
      spans += fmt::format("{}{}-{}", spans.empty() ? "" : ", ", passages[i]["start"].get<uint64_t>(),
                           passages[i]["end"].get<uint64_t>());
    std::printf("  [%d] %s (%s, %s): bytes %s of the text with sha256 %s\n", p["source"].get<int>(),
                p["document"].get<std::string>().c_str(), p["title"].get<std::string>().c_str(),
                p["classification"].get<std::string>().c_str(), spans.c_str(),
                p["document_sha256"].get<std::string>().substr(0, 12).c_str());
  }
  for (const auto& m : a["evidence"]["metrics"])
    std::printf("  metric %s, catalog %s, sql %s, %zu row(s)\n", m["metric"].get<std::string>().c_str(),
                m["catalog_version"].get<std::string>().c_str(),
                m["sql_hash"].get<std::string>().substr(0, 12).c_str(), m["rows"].size());
  for (const auto& l : a["limitations"])
    if (!l["nearest"].empty()) std::printf("  you can ask for: %s\n", l["nearest"].dump().c_str());
  std::printf("answer %s, audited\n", a["answer_id"].get<std::string>().c_str());
}

int run_ask(const AskOptions& o) {
  auto d = open_deployment(o.spec);
  if (!d.ok()) return fail(d.status().message());
  rag::AnswerRequest request;
  request.question = o.question;
  if (!o.request.empty()) {
    auto parsed = read_request_arg(o.request);
    if (!parsed.ok()) return fail(parsed.status().message());
    if (!parsed->is_object()) return fail("--request must be a JSON object (a typed metric request)");
    request.metric_request = *parsed;
  }
  if (request.question.empty() && !request.metric_request) return fail("give a question or --request");
  auto authenticator = make_authenticator(o.identity, d->spec);
  if (!authenticator.ok()) return fail("the identity provider's key set: " + authenticator.status().message());
  auto token = read_token_file(o.token);
  if (!token.ok()) return fail(token.status().message());
  auto answers = answer_options(d->spec, o.composer);  // the model file is read before the guard
  if (!answers.ok()) return fail(answers.status().message());
  std::unique_ptr<LocalPostgres> cluster;
  auto warehouse = open_warehouse(o.warehouse, &cluster);
  if (!warehouse.ok()) return fail(warehouse.status().message());
  if (Status guard = guard_for_warehouse(d->spec, *warehouse); !guard.ok()) return fail(guard.message());
  auto service = rag::ConnectedAnswerService::open(d->catalog, *warehouse, *answers);
  if (!service.ok()) return fail(service.status().message());
  auto asker = (*authenticator)->authenticate(*token);
  if (!asker.ok()) {
    (void)(*service)->service->audit_refusal(asker.status().message(), request.question);
    return fail(asker.status().message());
  }
  auto answer = (*service)->service->answer(*asker, request);
  if (!answer.ok()) return fail(answer.status().to_string());
  if (o.json) {
    std::printf("%s\n", dump_json(*answer, 2).c_str());
  } else {
    print_answer(*answer);
  }
  const std::string status = (*answer)["status"];
  return status == "answered" ? 0 : status == "limited" ? kExitLimited : kExitDeclined;
}

}  // namespace

void add_rag_serve(CLI::App& rag, int& exit_code) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = rag.add_subcommand("serve", "Serve governed answers over HTTP (and the OpenAI chat API)");
  cmd->add_option("--spec", o->spec, "enterprise-rag spec (default: examples/enterprise-rag.yaml)");
  cmd->add_option("--catalog", o->catalog, "metric catalog file instead of the spec's semantic-layer source");
  add_warehouse_options(*cmd, o->warehouse);
  cmd->add_option("--host", o->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", o->port, "port to listen on (0: any free one)")->capture_default_str();
  cmd->add_option("--threads", o->threads, "answer workers, each with its own warehouse connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--max-waiting", o->max_waiting,
                  "requests that may wait for a worker; past that, the spec's on_overload answer")
      ->capture_default_str();
  add_identity_options(*cmd, o->identity);
  add_composer_options(*cmd, o->composer);
  cmd->callback([o, &exit_code] {
    if (o->spec.empty()) o->spec = bundled_example("examples/enterprise-rag.yaml");
    exit_code = run_serve(*o);
  });
}

void add_rag_ask(CLI::App& rag, int& exit_code) {
  auto o = std::make_shared<AskOptions>();
  CLI::App* cmd = rag.add_subcommand("ask", "Answer one question (or typed metric request) for a token's asker");
  cmd->add_option("question", o->question, "the question");
  cmd->add_option("--spec", o->spec, "enterprise-rag spec (default: examples/enterprise-rag.yaml)");
  cmd->add_option("--token", o->token, "file holding the asker's JWT")->required();
  add_warehouse_options(*cmd, o->warehouse);
  cmd->add_option("--request", o->request, "a typed metric request instead of a question: JSON, or @FILE");
  cmd->add_flag("--json", o->json, "print the answer as JSON");
  add_identity_options(*cmd, o->identity);
  add_composer_options(*cmd, o->composer);
  cmd->callback([o, &exit_code] {
    if (o->spec.empty()) o->spec = bundled_example("examples/enterprise-rag.yaml");
    exit_code = run_ask(*o);
  });
}

}  // namespace keel::app
