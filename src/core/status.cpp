#include "core/status.h"

namespace keel {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::ok: return "ok";
    case StatusCode::invalid_argument: return "invalid_argument";
    case StatusCode::not_found: return "not_found";
    case StatusCode::already_exists: return "already_exists";
    case StatusCode::permission_denied: return "permission_denied";
    case StatusCode::unauthenticated: return "unauthenticated";
    case StatusCode::resource_exhausted: return "resource_exhausted";
    case StatusCode::failed_precondition: return "failed_precondition";
    case StatusCode::aborted: return "aborted";
    case StatusCode::cancelled: return "cancelled";
    case StatusCode::unavailable: return "unavailable";
    case StatusCode::deadline_exceeded: return "deadline_exceeded";
    case StatusCode::data_loss: return "data_loss";
    case StatusCode::unimplemented: return "unimplemented";
    case StatusCode::internal: return "internal";
  }
  return "unknown";
}

Status::Status(StatusCode code, std::string message) {
  if (code != StatusCode::ok) rep_ = std::make_shared<const Rep>(Rep{code, std::move(message)});
}

Status Status::resource_exhausted(std::string m, int64_t retry_after_ms) {
  Status s;
  s.rep_ = std::make_shared<const Rep>(
      Rep{StatusCode::resource_exhausted, std::move(m), retry_after_ms});
  return s;
}

const std::string& Status::message() const {
  static const std::string empty;
  return rep_ ? rep_->message : empty;
}

std::optional<int64_t> Status::retry_after_ms() const {
  if (!rep_ || rep_->retry_after_ms < 0) return std::nullopt;
  return rep_->retry_after_ms;
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  std::string out(status_code_name(code()));
  out += ": ";
  out += rep_->message;
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  Status s;
  std::string message(context);
  message += ": ";
  message += rep_->message;
  s.rep_ = std::make_shared<const Rep>(Rep{rep_->code, std::move(message), rep_->retry_after_ms});
  return s;
}

}  // namespace keel
