// Waiting on conditions in tests: poll with a deadline, never a fixed sleep.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace sluice::testing {

// Polls `condition` until it holds or `timeout` passes; returns whether it held.
inline bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return condition();
}

// True if `condition` holds at every poll for `duration` (a property over time, not a wait).
inline bool holdsThroughout(const std::function<bool()>& condition,
                            std::chrono::milliseconds duration) {
  const auto end = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < end) {
    if (!condition()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace sluice::testing
