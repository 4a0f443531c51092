// TaskLoop implementation: a deque of tasks plus periodic tasks, under one mutex.
#include "agent/task_loop.h"

namespace sluice::agent {

void TaskLoop::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void TaskLoop::postAt(Clock::time_point when, std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    timers_.emplace(when, std::move(task));
  }
  wake_.notify_one();
}

void TaskLoop::every(std::chrono::milliseconds period, std::function<void()> task) {
  std::lock_guard lock(mutex_);
  periodic_.push_back(Periodic{period, Clock::now() + period, std::move(task)});
}

void TaskLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

void TaskLoop::run() {
  loopThread_ = std::this_thread::get_id();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto deadline = Clock::now() + std::chrono::seconds(1);  // a bound keeps wait_until sane
    for (const auto& periodic : periodic_) deadline = std::min(deadline, periodic.next);
    if (!timers_.empty()) deadline = std::min(deadline, timers_.begin()->first);
    wake_.wait_until(lock, deadline, [&] {
      return stopping_ || !tasks_.empty() || Clock::now() >= deadline ||
             (!timers_.empty() && timers_.begin()->first < deadline);
    });
    if (stopping_) break;
    while (!tasks_.empty()) {
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
    const auto now = Clock::now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      auto task = std::move(timers_.begin()->second);
      timers_.erase(timers_.begin());
      lock.unlock();
      task();
      lock.lock();
    }
    for (std::size_t i = 0; i < periodic_.size(); ++i) {
      if (periodic_[i].next > now) continue;
      periodic_[i].next = now + periodic_[i].period;
      auto task = periodic_[i].task;
      lock.unlock();
      task();
      lock.lock();
    }
  }
}

}  // namespace sluice::agent
