// Kubernetes resource quantities: "500m", "2", "0.5", "128Mi", "1G", "1e3". Parsed exactly
// into milli-units (cpu "500m" = 500; memory "128Mi" = 134217728000), so comparisons and sums
// in the scheduler never round.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace tug::api {

class Quantity {
 public:
  Quantity() = default;
  static Quantity FromMilli(int64_t milli) {
    Quantity q;
    q.milli_ = milli;
    return q;
  }
  // Errors say what is wrong and show the accepted forms.
  static Result<Quantity> Parse(const std::string& s);

  int64_t milli() const { return milli_; }
  // Whole units, rounded up (a pod asking for 1500m cpu needs 2 cores' worth of slots).
  int64_t value_ceil() const { return (milli_ + 999) / 1000; }
  bool operator==(const Quantity&) const = default;
  auto operator<=>(const Quantity&) const = default;

 private:
  int64_t milli_ = 0;
};

}  // namespace tug::api
