// Work queue with dedup, in-flight tracking and per-key exponential backoff.
#include "kube/work_queue.h"

namespace sluice::kube {

WorkQueue::WorkQueue(WorkQueueOptions options) : options_(options) {}

void WorkQueue::addLocked(const std::string& key) {
  if (shuttingDown_ || dirty_.count(key) != 0) return;
  dirty_.insert(key);
  // A key being processed waits for done(), so two workers never hold the same key.
  if (processing_.count(key) != 0) return;
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  addLocked(key);
}

void WorkQueue::addAfter(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  if (shuttingDown_) return;
  if (delay.count() <= 0) {
    addLocked(key);
    return;
  }
  delayed_.emplace(Clock::now() + delay, key);
  // A waiter may be sleeping until a later deadline; let it recompute.
  cv_.notify_all();
}

void WorkQueue::addRateLimited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(mutex_);
    uint32_t& failures = failures_[key];
    delay = backoffDelay(options_.backoff, failures);
    ++failures;
  }
  addAfter(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  failures_.erase(key);
}

uint32_t WorkQueue::numRequeues(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = failures_.find(key);
  return found == failures_.end() ? 0 : found->second;
}

void WorkQueue::promoteDueLocked(Clock::time_point now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    addLocked(key);
  }
}

std::optional<std::string> WorkQueue::getImpl(std::optional<Clock::time_point> deadline) {
  std::unique_lock lock(mutex_);
  for (;;) {
    promoteDueLocked(Clock::now());
    if (!queue_.empty()) break;
    if (shuttingDown_) return std::nullopt;
    // Sleep until the earliest of: a new key, the next delayed key, the caller's deadline.
    std::optional<Clock::time_point> wake = deadline;
    if (!delayed_.empty() && (!wake || delayed_.begin()->first < *wake))
      wake = delayed_.begin()->first;
    if (wake) {
      if (deadline && Clock::now() >= *deadline) return std::nullopt;
      cv_.wait_until(lock, *wake);
    } else {
      cv_.wait(lock);
    }
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

std::optional<std::string> WorkQueue::get() { return getImpl(std::nullopt); }

std::optional<std::string> WorkQueue::getUntil(Clock::time_point deadline) {
  return getImpl(deadline);
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mutex_);
  processing_.erase(key);
  if (dirty_.count(key) != 0) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::shutDown() {
  std::lock_guard lock(mutex_);
  shuttingDown_ = true;
  delayed_.clear();
  cv_.notify_all();
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard lock(mutex_);
  return shuttingDown_;
}

size_t WorkQueue::size() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace sluice::kube
