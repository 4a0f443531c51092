// TaskLoop: the agent's single OVS thread. Everything that touches the OpenFlow connection or
// OVSDB runs here, in order (libopenvswitch's vconn is not thread-safe; docs/threading.md).
// Other threads (informers, CNI connections) post work, or call() and wait for the answer.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice::agent {

class TaskLoop {
 public:
  using Clock = std::chrono::steady_clock;

  void post(std::function<void()> task);
  // Runs `task` on the loop once, at `when` or soon after.
  void postAt(Clock::time_point when, std::function<void()> task);
  // Runs `task` on the loop and returns its result; runs inline when already on the loop.
  template <typename Function>
  auto call(Function task) -> decltype(task()) {
    if (onLoop()) return task();
    std::packaged_task<decltype(task())()> packaged(std::move(task));
    auto result = packaged.get_future();
    post([&packaged] { packaged(); });
    return result.get();
  }
  // `task` runs every `period` on the loop (the first time after one period).
  void every(std::chrono::milliseconds period, std::function<void()> task);
  // Runs until stop(); the calling thread becomes the loop thread.
  void run();
  void stop();
  bool onLoop() const { return std::this_thread::get_id() == loopThread_.load(); }

 private:
  struct Periodic {
    std::chrono::milliseconds period;
    Clock::time_point next;
    std::function<void()> task;
  };
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  std::vector<Periodic> periodic_;
  std::multimap<Clock::time_point, std::function<void()>> timers_;
  bool stopping_ = false;
  // Atomic: run() sets it on the loop thread while other threads read it in call(); as a plain
  // member that was a data race.
  std::atomic<std::thread::id> loopThread_;
};

}  // namespace sluice::agent
