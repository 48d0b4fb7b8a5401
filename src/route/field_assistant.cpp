#include "route/field_assistant.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "core/hash.h"
#include "engine/memory_fit.h"
#include "core/version.h"

namespace keel::route {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& x) {
  return std::find(list.begin(), list.end(), x) != list.end();
}

}  // namespace

FieldAssistant::~FieldAssistant() = default;

Result<std::unique_ptr<FieldAssistant>> FieldAssistant::open(FieldRoutingConfig config, const std::string& store_path) {
  std::unique_ptr<FieldAssistant> a(new FieldAssistant());
  a->config_ = std::move(config);
  KEEL_ASSIGN_OR_RETURN(a->journal_, RouteJournal::open(store_path));
  return a;
}

Result<RouteAnswer> FieldAssistant::answer_on(Route r, const AskInput& in) {
  if (r == Route::cloud) return ask_cloud(config_.endpoint, in.question, in.max_tokens);
  if (!local_) {
    engine::ContextOptions context;
    context.n_ctx = config_.n_ctx;
    KEEL_RETURN_IF_ERROR(
        engine::choose_model({{"local", config_.local_model_path, config_.local_max_ram_mb}}, context).status());
    KEEL_ASSIGN_OR_RETURN(local_, LocalChat::open(config_.local_model_path, config_.n_ctx, config_.threads));
  }
  return local_->ask(in.question, in.max_tokens);
}

void FieldAssistant::compare_with_device(AskRecord* rec) {
  if (rec->route != "cloud" || !config_.local) return;
  if (local_sha256_.empty()) {
    if (local_) {
      local_sha256_ = local_->sha256();
    } else if (auto digest = sha256_file(config_.local_model_path); digest.ok()) {
      local_sha256_ = to_hex(*digest);
    } else {
      rec->skew = "the device's model file could not be read to compare: " + digest.status().message();
      return;
    }
  }
  rec->device_sha256 = local_sha256_;
  rec->device_version = std::string(keel_version());
  std::vector<std::string> differs;
  if (rec->model_sha256.empty()) {
    differs.push_back("the cloud did not say which model file answered");
  } else if (rec->model_sha256 != rec->device_sha256) {
    differs.push_back(fmt::format("model file {} on the cloud, {} on the device", rec->model_sha256.substr(0, 12),
                                  rec->device_sha256.substr(0, 12)));
  }
  if (!rec->keel_version.empty() && rec->keel_version != rec->device_version)
    differs.push_back(fmt::format("keel {} on the cloud, {} on the device", rec->keel_version, rec->device_version));
  rec->skew = fmt::format("{}", fmt::join(differs, "; "));
}

Result<AskRecord> FieldAssistant::ask(const AskInput& in) {
  AskRecord rec;
  return run(in, std::move(rec));
}

Result<std::vector<AskRecord>> FieldAssistant::retry_queued(int64_t max_tokens) {
  KEEL_ASSIGN_OR_RETURN(auto queued, journal_->queued());
  std::vector<AskRecord> out;
  for (auto& q : queued) {
    AskInput in;
    in.user = q.user;
    in.task = q.task;
    in.question = q.question;
    in.max_tokens = max_tokens;
    in.queue_if_refused = true;
    KEEL_ASSIGN_OR_RETURN(AskRecord done, run(in, q));
    out.push_back(std::move(done));
  }
  return out;
}

Result<AskRecord> FieldAssistant::run(const AskInput& in, AskRecord rec) {
  const TaskProfile* task = nullptr;
  std::vector<std::string> known;
  for (const auto& t : config_.tasks) {
    known.push_back(t.type);
    if (t.type == in.task) task = &t;
  }
  if (!task)
    return Status::invalid_argument(fmt::format("unknown task type '{}'; the spec's routing.tasks has: {}", in.task,
                                                fmt::join(known, ", ")));
  const bool requeue = rec.id != 0;  // a queued ask asked again: its row is completed, not added
  rec.user = in.user;
  rec.task = task->type;
  rec.data_class = task->data_class;
  rec.question = in.question;

  RouteInputs inputs;
  inputs.task = *task;
  std::vector<std::string> not_asked;
  auto add_option = [&](const std::optional<RouteOption>& o) -> Status {
    if (!o) return Status();
    if (in.force && *in.force != o->route) {
      not_asked.push_back(fmt::format("{} was not asked for (only {})", route_name(o->route), route_name(*in.force)));
      return Status();
    }
    RouteOption option = *o;
    KEEL_ASSIGN_OR_RETURN(option.measured_p50_ms, journal_->p50_ms(task->type, std::string(route_name(o->route))));
    inputs.options.push_back(std::move(option));
    return Status();
  };
  KEEL_RETURN_IF_ERROR(add_option(config_.local));
  KEEL_RETURN_IF_ERROR(add_option(config_.cloud));
  const bool cloud_asked = std::any_of(inputs.options.begin(), inputs.options.end(),
                                      [](const RouteOption& o) { return o.route == Route::cloud; });
  if (cloud_asked) {
    inputs.link = probe(config_.endpoint);
    rec.offline = (requeue && rec.offline) || !inputs.link.up;  // a queued ask was made offline
    inputs.consent_needed = config_.consent_for_every_class || contains(config_.consent_classes, task->data_class);
    if (inputs.consent_needed) {
      KEEL_ASSIGN_OR_RETURN(auto given, journal_->consent(in.user, task->data_class));
      inputs.consent_given = given.value_or(false);
    }
  } else if (!config_.cloud) {
    inputs.link.detail = "no private-cloud route is configured";  // not offline: nothing was probed
  }

  std::string fallback_cause, first_error;
  for (int attempt = 0;; ++attempt) {
    RouteDecision d = decide(inputs);
    rec.rejected = Json::array();
    for (const auto& r : d.rejected) rec.rejected.push_back(r);
    for (const auto& r : not_asked) rec.rejected.push_back(r);
    rec.reason = fallback_cause.empty() ? d.reason : fallback_cause + "; " + d.reason;
    if (!d.route && attempt > 0) {
      // The question reached a permitted route that failed (its outcome unknown) and no other
      // may take it: failed, with the error; never queued to be sent again blind.
      rec.status = "failed";
      rec.route.clear();
      rec.model_id.clear();
      rec.error = first_error;
      break;
    }
    if (!d.route) {
      rec.status = in.queue_if_refused ? "queued" : "refused";
      rec.route.clear();
      if (requeue) {
        if (rec.status == "queued") return rec;  // still waiting: the row stays as it was
        KEEL_RETURN_IF_ERROR(journal_->finish_queued(rec));
      } else {
        KEEL_RETURN_IF_ERROR(journal_->record(&rec));
      }
      return rec;
    }
    rec.route = std::string(route_name(*d.route));
    rec.model_id = d.model_id;
    auto answer = answer_on(*d.route, in);
    if (answer.ok()) {
      rec.status = "answered";
      rec.fallback = attempt > 0;
      rec.answer = answer->text;
      rec.model_sha256 = answer->model_sha256;
      rec.keel_version = answer->keel_version;
      rec.ms = answer->ms;
      rec.error.clear();
      compare_with_device(&rec);
      break;
    }
    if (attempt > 0) {  // the second permitted route failed too
      rec.status = "failed";
      rec.error = first_error + "; then " + answer.status().to_string();
      break;
    }
    // The chosen route failed: decide again without it; only what the policy permits is tried.
    first_error = answer.status().to_string();
    fallback_cause = fmt::format("{} failed ({})", rec.route, answer.status().message());
    if (*d.route == Route::cloud) {
      inputs.link.up = false;
      inputs.link.detail = "it failed mid-answer: " + answer.status().message();
    } else {
      std::erase_if(inputs.options, [](const RouteOption& o) { return o.route == Route::local; });
      not_asked.push_back("local failed: " + answer.status().message());
    }
  }
  if (requeue) {
    KEEL_RETURN_IF_ERROR(journal_->finish_queued(rec));
  } else {
    KEEL_RETURN_IF_ERROR(journal_->record(&rec));
  }
  return rec;
}

}  // namespace keel::route
