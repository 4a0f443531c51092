// Exponential backoff arithmetic.
#include "kube/backoff.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace sluice::kube {

std::chrono::milliseconds backoffDelay(const BackoffOptions& options, uint32_t attempt) {
  double delay = static_cast<double>(options.initial.count()) *
                 std::pow(options.factor, static_cast<double>(std::min<uint32_t>(attempt, 64)));
  double cap = static_cast<double>(options.max.count());
  return std::chrono::milliseconds(static_cast<int64_t>(std::min(delay, cap)));
}

std::chrono::milliseconds ExponentialBackoff::next() {
  auto delay = backoffDelay(options_, attempts_);
  ++attempts_;
  if (options_.jitter <= 0) return delay;
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::uniform_real_distribution<double> spread(0.0, options_.jitter);
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(delay.count()) * (1.0 + spread(generator))));
}

}  // namespace sluice::kube
