// The semantic layer's tools over MCP, under the same identity and policy as the HTTP API:
// list_metrics (what the asker may query), describe_metric (its dimensions, filters, grains) and
// query_metric (a typed request, answered with its evidence, limitations and policy decisions,
// audited like every answer).
//
// Contract:
// - An MCP principal here is an asker (principal, tenant, roles) written by principal_of(); a
//   principal string that is not one lists no tool and is forbidden every call.
// - A limitation is a result (isError false, status "limited"), as in the HTTP API; a warehouse
//   or audit failure is a result with isError and the reason, nothing of the answer.
// - Thread-safe: calls lease a service from the pool.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mcp/mcp_server.h"
#include "rag/catalog_source.h"
#include "rag/service_pool.h"
#include "semantic/metric_request.h"

namespace keel::rag {

//! The MCP principal string of an asker, and back.
std::string principal_of(const semantic::Asker& asker);
[[nodiscard]] Result<semantic::Asker> asker_of_principal(const std::string& principal);

class MetricTools : public mcp::ToolProvider {
 public:
  MetricTools(std::shared_ptr<CatalogSource> catalog, std::shared_ptr<ServicePool> services)
      : catalog_(std::move(catalog)), services_(std::move(services)) {}

  std::vector<nlohmann::json> list(const std::string& principal) override;
  [[nodiscard]] Result<mcp::ToolCallOutcome> call(const std::string& principal, const std::string& name,
                                                  const nlohmann::json& arguments) override;

 private:
  std::shared_ptr<CatalogSource> catalog_;
  std::shared_ptr<ServicePool> services_;
};

}  // namespace keel::rag
