// What the keel rag commands share: the spec's metric catalog, the guard that lets the process
// reach only its warehouse, and the identity options.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>

#include "contract/spec.h"
#include "core/json.h"
#include "core/local_postgres.h"
#include "core/result.h"
#include "rag/answer_service.h"
#include "rag/token_authenticator.h"
#include "semantic/metric_catalog.h"

namespace keel::app {

//! Each flag overrides the spec's identity-provider component (contract/spec.h IdentitySettings);
//! unset, the spec's value is used (issuer: the component's url).
struct RagIdentityOptions {
  std::optional<std::string> jwks, issuer, audience;  //!< jwks: a file, or an https:// URL on the egress allow-list
  std::optional<std::string> principal_claim, tenant_claim, roles_claim;
  int64_t jwks_min_refetch_s = 30;
};

//! Who writes an answer's text (rag/answer_service.h): `template` never loads a model; `model`
//! routes each answer to the spec's local generate model approved for its data class; `auto`
//! (default) does so when that model's evaluation record (assistant/answer_quality.h) shows at
//! least quality_floor of its answers correct, else keeps the templates and says why in every answer.
struct ComposerChoice {
  std::string mode = "auto";
  int64_t max_tokens = 96;
  double quality_floor = 0.5;  //!< auto: the share of correct answers the record must show
};
void add_composer_options(CLI::App& cmd, ComposerChoice& o);

//! The answer options with the router (null: templates only) and the reason, as chosen.
[[nodiscard]] Result<rag::AnswerServiceOptions> answer_options(const contract::Spec& spec, const ComposerChoice& o);

//! --jwks, --issuer, --audience and the claim names.
void add_identity_options(CLI::App& cmd, RagIdentityOptions& o);
//! The authenticator for the flags over the spec's identity provider; invalid_argument when
//! neither names a key set.
[[nodiscard]] Result<std::unique_ptr<rag::TokenAuthenticator>> make_authenticator(const RagIdentityOptions& o,
                                                                                 const contract::Spec& spec);

//! Where the warehouse is: a libpq URI (as its reader role), or a folder where the command runs
//! a PostgreSQL cluster of its own, holding the example's sample warehouse.
struct WarehouseOptions {
  std::string uri, pg_data;
};

//! --warehouse URI | --pg-data DIR (exactly one).
void add_warehouse_options(CLI::App& cmd, WarehouseOptions& o);

//! The reader role's URI. For --pg-data, starts the cluster (kept in *cluster: it stops when
//! that goes) and, the first time, creates the sample warehouse and the audit table in it.
[[nodiscard]] Result<std::string> open_warehouse(const WarehouseOptions& o, std::unique_ptr<LocalPostgres>* cluster);

//! The metric catalog the spec names (a data source of kind semantic-layer), and its path.
[[nodiscard]] Result<semantic::MetricCatalog> catalog_of(const contract::Spec& spec);
[[nodiscard]] Result<std::string> catalog_path_of(const contract::Spec& spec);

//! The warehouse is reached over its Unix socket, and then the process can reach nothing else
//! (the local_ipc guard), or at a host the spec's egress allow-list names.
[[nodiscard]] Status guard_for_warehouse(const contract::Spec& spec, const std::string& uri);
//! Only the allow-list check (a server, whose listening socket the guard's profiles would close).
[[nodiscard]] Status check_warehouse_host(const contract::Spec& spec, const std::string& uri);

//! The --request argument: JSON text, or @FILE holding it.
[[nodiscard]] Result<Json> read_request_arg(const std::string& arg);

//! A file's text without its trailing new line (a token file).
[[nodiscard]] Result<std::string> read_token_file(const std::string& path);

}  // namespace keel::app
