// Errors as values. A Status is ok or carries a message a person can act on; Result<T> is a
// value or such a Status. Used across Tug so that no error travels as an exception across a
// thread or an I/O callback.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace tug {

class Status {
 public:
  // What kind of failure, so that callers can answer differently (an HTTP server maps these
  // to status codes); the message says what happened and what to do.
  enum class Code { kOk, kError, kInvalid, kNotFound, kConflict, kUnavailable, kCompacted };

  Status() = default;  // ok
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(Code::kError, std::move(message)); }
  static Status Invalid(std::string m) { return Status(Code::kInvalid, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
  // The cluster cannot serve this now (no leader, no quorum, timed out): retry later.
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status Compacted(std::string m) { return Status(Code::kCompacted, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return ok(); }
  Code code() const { return code_; }
  // Empty when ok.
  const std::string& message() const { return message_; }

 private:
  Status(Code c, std::string message) : code_(c), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) {}  // NOLINT: must not be ok

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tug
