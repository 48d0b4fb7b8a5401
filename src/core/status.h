// Status: the outcome of an operation that a user or the world can make fail.
//
// Contract:
// - Expected failures are values, never exceptions or crashes. Every function that can fail
//   because of input, the filesystem, the network or a policy returns a Status or a Result<T>.
// - The code says what kind of failure it is (callers branch on it); the message says what
//   was wrong and what to do, in words a user can act on.
// - resource_exhausted may carry a retry-after hint (milliseconds) that reaches the user as an
//   HTTP Retry-After header or an equivalent field.
// - A Status is cheap to copy when ok (no allocation).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace keel {

enum class StatusCode : uint8_t {
  ok = 0,
  invalid_argument,     //!< the caller's input is malformed or out of range
  not_found,            //!< a named thing does not exist
  already_exists,       //!< creating something that is already there
  permission_denied,    //!< a policy forbids this principal this action
  unauthenticated,      //!< no valid credentials were presented
  resource_exhausted,   //!< a bound was reached (queue, quota, memory); may carry retry-after
  failed_precondition,  //!< the system is not in a state where this can run
  aborted,              //!< a concurrent change won; retrying the whole operation may succeed
  cancelled,            //!< the caller went away or asked to stop
  unavailable,          //!< a dependency is down; retrying later may succeed
  deadline_exceeded,    //!< the operation ran out of time; its outcome may be unknown
  data_loss,            //!< stored data is corrupt or truncated
  unimplemented,        //!< a feature this build does not have
  internal,             //!< an invariant broke: a bug in Keel
};

//! Stable lower-case name of a code ("invalid_argument"); used in JSON errors and logs.
std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message);

  static Status ok_status() { return Status(); }
  static Status invalid_argument(std::string m) { return {StatusCode::invalid_argument, std::move(m)}; }
  static Status not_found(std::string m) { return {StatusCode::not_found, std::move(m)}; }
  static Status already_exists(std::string m) { return {StatusCode::already_exists, std::move(m)}; }
  static Status permission_denied(std::string m) { return {StatusCode::permission_denied, std::move(m)}; }
  static Status unauthenticated(std::string m) { return {StatusCode::unauthenticated, std::move(m)}; }
  //! A bound was reached; retry_after_ms < 0 means "no estimate".
  static Status resource_exhausted(std::string m, int64_t retry_after_ms = -1);
  static Status failed_precondition(std::string m) { return {StatusCode::failed_precondition, std::move(m)}; }
  static Status aborted(std::string m) { return {StatusCode::aborted, std::move(m)}; }
  static Status cancelled(std::string m) { return {StatusCode::cancelled, std::move(m)}; }
  static Status unavailable(std::string m) { return {StatusCode::unavailable, std::move(m)}; }
  static Status deadline_exceeded(std::string m) { return {StatusCode::deadline_exceeded, std::move(m)}; }
  static Status data_loss(std::string m) { return {StatusCode::data_loss, std::move(m)}; }
  static Status unimplemented(std::string m) { return {StatusCode::unimplemented, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::internal, std::move(m)}; }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::ok; }
  //! Empty when ok.
  const std::string& message() const;
  //! The retry-after hint of a resource_exhausted status, if one was given.
  std::optional<int64_t> retry_after_ms() const;

  //! "invalid_argument: message" (or "ok").
  std::string to_string() const;

  //! Returns a copy whose message is "context: message"; ok stays ok.
  Status with_context(std::string_view context) const;

  bool operator==(const Status& other) const {
    return code() == other.code() && message() == other.message();
  }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    int64_t retry_after_ms = -1;
  };
  // Shared and immutable, so copies are cheap and ok statuses allocate nothing.
  std::shared_ptr<const Rep> rep_;
};

}  // namespace keel

//! Returns from the enclosing function when `expr` yields a non-ok Status.
#define KEEL_RETURN_IF_ERROR(expr)                     \
  do {                                                 \
    ::keel::Status keel_status_ = (expr);              \
    if (!keel_status_.ok()) return keel_status_;       \
  } while (0)
