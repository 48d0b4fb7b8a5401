// Result<T>: a value or the Status that explains why there is none. Result<T, E>: a value or a
// typed error E, for the parsers whose errors carry more than a Status (an HTTP status and an
// OpenAI error code, a JSON-RPC code and request id, a list of spec errors with their lines).
//
// Contract: a Result holds exactly one of a T or an error. Constructing a Result<T> from an ok
// Status is a programmer error (asserted). value() on an error Result, and error() on a value,
// are programmer errors (asserted); check ok() first or use KEEL_ASSIGN_OR_RETURN.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/status.h"

namespace keel {

template <typename T, typename E = Status>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<T, E>, "a Result's value and error types differ");

 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(E error) : data_(std::move(error)) {   // NOLINT(google-explicit-constructor)
    if constexpr (std::is_same_v<E, Status>)
      assert(!std::get<Status>(data_).ok() && "Result constructed from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  //! The error; an ok Status when this holds a value.
  Status status() const
    requires std::is_same_v<E, Status>
  {
    return ok() ? Status() : std::get<Status>(data_);
  }
  //! The typed error (not ok() only).
  const E& error() const& {
    assert(!ok());
    return std::get<E>(data_);
  }
  E&& error() && {
    assert(!ok());
    return std::get<E>(std::move(data_));
  }

  T& value() & {
    assert(ok());
    return std::get<T>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(data_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  T value_or(T fallback) const& { return ok() ? std::get<T>(data_) : std::move(fallback); }

 private:
  std::variant<T, E> data_;
};

}  // namespace keel

#define KEEL_CONCAT_INNER_(a, b) a##b
#define KEEL_CONCAT_(a, b) KEEL_CONCAT_INNER_(a, b)

//! `KEEL_ASSIGN_OR_RETURN(auto x, f());` declares x from f()'s value or returns its Status.
#define KEEL_ASSIGN_OR_RETURN(lhs, expr) \
  KEEL_ASSIGN_OR_RETURN_IMPL_(KEEL_CONCAT_(keel_result_, __LINE__), lhs, expr)
#define KEEL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
