// A rate-limited work queue of keys, with client-go's semantics: a key is queued at most once,
// is never handed to two workers at once, and failed keys come back with per-key backoff.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "kube/backoff.h"

namespace sluice::kube {

struct WorkQueueOptions {
  // Per-key retry delay for addRateLimited(): 5 ms doubling up to 1000 s, like client-go.
  BackoffOptions backoff{.initial = std::chrono::milliseconds(5),
                         .max = std::chrono::milliseconds(1'000'000),
                         .factor = 2.0,
                         .jitter = 0.0};
};

// Thread-safe. Typical worker loop:
//   while (auto key = queue.get()) {
//     if (sync(*key)) queue.forget(*key); else queue.addRateLimited(*key);
//     queue.done(*key);
//   }
class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  explicit WorkQueue(WorkQueueOptions options = {});
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` unless it is already waiting. A key being processed is queued again after done().
  void add(const std::string& key);
  // Queues `key` once `delay` has passed.
  void addAfter(const std::string& key, std::chrono::milliseconds delay);
  // Queues `key` after its per-key backoff, which grows with each call until forget().
  void addRateLimited(const std::string& key);
  // Clears the key's backoff (call after a successful sync).
  void forget(const std::string& key);
  uint32_t numRequeues(const std::string& key) const;

  // Blocks until a key is ready; std::nullopt once shut down and drained.
  std::optional<std::string> get();
  // Like get() but gives up at `deadline` (std::nullopt on timeout or shutdown).
  std::optional<std::string> getUntil(Clock::time_point deadline);
  // Marks `key` as processed; re-queues it if it was added while being processed.
  void done(const std::string& key);

  // Wakes all waiters; get() still returns keys already queued, then std::nullopt.
  // Delayed keys are dropped.
  void shutDown();
  bool shuttingDown() const;
  // Keys ready now (not counting delayed or in-flight keys).
  size_t size() const;

 private:
  void addLocked(const std::string& key);
  void promoteDueLocked(Clock::time_point now);
  std::optional<std::string> getImpl(std::optional<Clock::time_point> deadline);

  WorkQueueOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> processing_;
  std::multimap<Clock::time_point, std::string> delayed_;
  std::unordered_map<std::string, uint32_t> failures_;
  bool shuttingDown_ = false;
};

}  // namespace sluice::kube
