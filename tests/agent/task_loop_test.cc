// TaskLoop: posted work and timers run on the loop thread, timers in time order; call() from
// other threads and inline on the loop. Run under ThreadSanitizer by tools/test.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "agent/task_loop.h"

namespace sluice::agent {
namespace {

using namespace std::chrono_literals;

TEST_CASE("postAt runs on the loop in time order, not before its time", "[unit]") {
  TaskLoop loop;
  std::thread runner([&] { loop.run(); });
  std::vector<int> order;  // touched on the loop thread only
  std::vector<TaskLoop::Clock::time_point> ranAt;
  const auto start = TaskLoop::Clock::now();
  // Posted out of order; the later one first, so an earlier timer must wake a longer wait.
  loop.postAt(start + 300ms, [&] {
    order.push_back(2);
    ranAt.push_back(TaskLoop::Clock::now());
    loop.stop();
  });
  loop.postAt(start + 50ms, [&] {
    order.push_back(1);
    ranAt.push_back(TaskLoop::Clock::now());
  });
  runner.join();
  REQUIRE(order == std::vector<int>{1, 2});
  CHECK(ranAt[0] >= start + 50ms);
  CHECK(ranAt[1] >= start + 300ms);
  // The earlier timer did not wait for the later one (bounded generously for loaded machines).
  CHECK(ranAt[0] < start + 280ms);
}

// Runs a TaskLoop on its own thread for the test's lifetime.
struct RunningLoop {
  TaskLoop loop;
  std::thread thread{[this] { loop.run(); }};
  ~RunningLoop() {
    loop.stop();
    thread.join();
  }
};

TEST_CASE("task loop: posted tasks run in order on one thread", "[unit]") {
  RunningLoop running;
  std::vector<int> seen;  // touched only on the loop thread
  for (int i = 0; i < 100; ++i) running.loop.post([&seen, i] { seen.push_back(i); });
  const auto result = running.loop.call([&] { return seen; });
  REQUIRE(result.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(result[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("task loop: call() from many threads, and inline when already on the loop", "[unit]") {
  RunningLoop running;
  int counter = 0;  // only the loop thread writes it: no lock, which TSan checks
  std::atomic<bool> onLoopElsewhere{false};  // Catch2's CHECK is not thread-safe
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (running.loop.onLoop()) onLoopElsewhere = true;
        running.loop.call([&] { return ++counter; });
      }
    });
  for (auto& caller : callers) caller.join();
  CHECK_FALSE(onLoopElsewhere);
  CHECK(running.loop.call([&] { return counter; }) == 800);
  // A nested call on the loop thread must run inline, or it would wait for itself forever.
  CHECK(running.loop.call(
      [&] { return running.loop.onLoop() && running.loop.call([] { return 7; }) == 7; }));
}

TEST_CASE("task loop: periodic tasks repeat until stop", "[unit]") {
  RunningLoop running;
  std::atomic<int> ticks{0};
  running.loop.every(5ms, [&] { ++ticks; });
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (ticks < 3 && std::chrono::steady_clock::now() < deadline)
    running.loop.call([] { return 0; });  // wait on the loop itself, not a sleep
  CHECK(ticks >= 3);
}

}  // namespace
}  // namespace sluice::agent
