// The Clock seam: code that decides by time (timeouts, back-off, grace periods, ages) asks
// a Clock instead of reading std::chrono's clocks, so that tests drive it with a FakeClock
// and need no sleeps.
#pragma once

#include <chrono>

namespace tug {

class Clock {
 public:
  using Steady = std::chrono::steady_clock::time_point;
  using Wall = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  // Monotonic time, for durations and deadlines.
  virtual Steady Now() const = 0;
  // Calendar time, for timestamps people read (creationTimestamp, lastTransitionTime).
  virtual Wall WallNow() const = 0;
};

// The machine's clocks. Thread-safe; lives for the whole process.
Clock& SystemClock();

// A clock that moves only when told to. Not thread-safe: advance it from the thread that
// reads it.
class FakeClock : public Clock {
 public:
  FakeClock() = default;
  Steady Now() const override { return now_; }
  Wall WallNow() const override { return wall_; }
  // Moves both clocks forward.
  void Advance(std::chrono::nanoseconds d) {
    now_ += d;
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  }
  void SetWall(Wall t) { wall_ = t; }

 private:
  Steady now_{std::chrono::hours(1)};
  Wall wall_{std::chrono::seconds(1767225600)};  // 2026-01-01T00:00:00Z
};

}  // namespace tug
