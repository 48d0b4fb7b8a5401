#include "sync/sync_client.h"

#include <fmt/format.h>

#include "core/clock.h"
#include "core/json.h"
#include "net/http_client.h"

namespace keel::sync {
namespace {

Result<Json> call(const SyncEndpoint& e, const std::string& method, const std::string& path, const std::string& body) {
  net::HttpClientRequest r;
  r.method = method;
  r.url = e.url + path;
  r.body = body;
  r.timeout_ms = e.timeout_ms;
  r.connect_timeout_ms = e.timeout_ms;
  r.max_response_bytes = 16 << 20;
  r.headers = {{"Authorization", "Bearer " + e.key}};
  if (!body.empty()) r.headers.push_back({"Content-Type", "application/json"});
  auto response = net::http_fetch(r);
  if (!response.ok()) {
    if (response.status().code() == StatusCode::deadline_exceeded) return response.status();
    return Status::unavailable(fmt::format("{} {}: {}", method, r.url, response.status().message()));
  }
  auto parsed = parse_json(response->body);
  if (response->status == 401 || response->status == 403)
    return Status::permission_denied(fmt::format("{} {}: {} {}", method, r.url, response->status, response->body));
  if (response->status >= 500) return Status::unavailable(fmt::format("{} {}: {} {}", method, r.url, response->status, response->body));
  if (response->status != 200)
    return Status::invalid_argument(fmt::format("{} {}: {} {}", method, r.url, response->status, response->body));
  if (!parsed.ok() || !parsed->is_object()) return Status::data_loss(fmt::format("{} {}: the answer is not JSON", method, r.url));
  return *parsed;
}

Status pull_all(DeviceStore& store, const SyncEndpoint& e, SyncReport* report) {
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(int64_t cursor, store.cursor());
    KEEL_ASSIGN_OR_RETURN(Json page, call(e, "GET", fmt::format("/v1/sync/pull?after={}&limit=200", cursor), ""));
    auto list = page.find("changes");
    if (list == page.end() || !list->is_array()) return Status::data_loss("a pull answer without changes");
    std::vector<Change> changes;
    for (const auto& j : *list) {
      auto c = parse_change(j);
      if (!c.ok()) return Status::data_loss(c.status().message());
      if (c->cursor <= cursor) return Status::data_loss("a pull answer went back in the change log");
      changes.push_back(*std::move(c));
    }
    KEEL_ASSIGN_OR_RETURN(int64_t recovered, store.apply_changes(changes));
    report->pulled += static_cast<int64_t>(changes.size());
    report->recovered += recovered;
    if (changes.size() < 200) return Status();
  }
}

void add(ReconcileReport* to, const ReconcileReport& r) {
  to->rebased += r.rebased;
  to->dropped += r.dropped;
  to->held += r.held;
  to->conflicts.insert(to->conflicts.end(), r.conflicts.begin(), r.conflicts.end());
}

}  // namespace

Status sync_once(DeviceStore& store, const SyncRules& rules, const SyncEndpoint& endpoint, SyncReport* report,
                 int max_rounds) {
  SyncReport local;
  SyncReport& r = report ? *report : local;
  const int64_t start = monotonic_now_ns();
  auto finish = [&](Status s) {
    auto status = store.status();
    if (status.ok()) r.left = status->queued + status->held;
    r.ms = static_cast<double>(monotonic_now_ns() - start) / 1e6;
    return s;
  };
  for (int round = 0; round < max_rounds; ++round) {
    ++r.rounds;
    if (Status s = pull_all(store, endpoint, &r); !s.ok()) return finish(s);
    auto reconciled = store.reconcile(rules);
    if (!reconciled.ok()) return finish(reconciled.status());
    add(&r.reconcile, *reconciled);
    auto batch = store.sendable();
    if (!batch.ok()) return finish(batch.status());
    if (batch->empty()) return finish(Status());
    Json body = {{"mutations", Json::array()}};
    for (const auto& m : *batch) body["mutations"].push_back(m.to_json());
    auto answer = call(endpoint, "POST", "/v1/sync/push", body.dump());
    if (!answer.ok()) return finish(answer.status());
    auto results = answer->find("results");
    if (results == answer->end() || !results->is_array() || results->size() != batch->size())
      return finish(Status::data_loss("a push answer without one result per mutation"));
    r.pushed += static_cast<int64_t>(batch->size());
    bool conflict = false;
    for (size_t i = 0; i < batch->size(); ++i) {
      auto outcome = parse_outcome((*results)[i]);
      if (!outcome.ok()) return finish(Status::data_loss(outcome.status().message()));
      if (Status s = store.acknowledge((*batch)[i], *outcome); !s.ok()) return finish(s);
      r.applied += outcome->outcome == "applied";
      r.duplicates += outcome->outcome == "duplicate";
      if (outcome->outcome == "conflict") {
        ++r.conflicts;
        conflict = true;
      }
    }
    (void)conflict;  // the next round pulls, rebases and sends again either way
  }
  return finish(Status());
}

}  // namespace keel::sync
