// TaskLoop: posted work and timers run on the loop thread, timers in time order.
#include <catch2/catch.hpp>

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

}  // namespace
}  // namespace sluice::agent
