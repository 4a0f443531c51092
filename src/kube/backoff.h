// Exponential backoff with a cap, as a pure calculator (used by the informer, the work queue and
// leader election).
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice::kube {

struct BackoffOptions {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{30'000};
  double factor = 2.0;
  // 0.2 spreads each delay over [d, d * 1.2) so that many clients do not retry in lockstep.
  double jitter = 0.0;
};

// The delay before retry number `attempt` (0-based), without jitter: initial * factor^attempt,
// capped at max.
std::chrono::milliseconds backoffDelay(const BackoffOptions& options, uint32_t attempt);

// Stateful helper: next() grows the delay, reset() starts over after a success.
class ExponentialBackoff {
 public:
  explicit ExponentialBackoff(BackoffOptions options) : options_(options) {}
  std::chrono::milliseconds next();
  void reset() { attempts_ = 0; }
  uint32_t attempts() const { return attempts_; }

 private:
  BackoffOptions options_;
  uint32_t attempts_ = 0;
};

}  // namespace sluice::kube
