// Unit tests for the work queue and exponential backoff.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "kube/backoff.h"
#include "kube/work_queue.h"

namespace sluice::kube {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST_CASE("backoff: doubles from initial and stops at max", "[unit]") {
  BackoffOptions options{.initial = 100ms, .max = 1000ms, .factor = 2.0, .jitter = 0.0};
  CHECK(backoffDelay(options, 0) == 100ms);
  CHECK(backoffDelay(options, 1) == 200ms);
  CHECK(backoffDelay(options, 3) == 800ms);
  CHECK(backoffDelay(options, 4) == 1000ms);
  CHECK(backoffDelay(options, 1000) == 1000ms);
  ExponentialBackoff backoff(options);
  CHECK(backoff.next() == 100ms);
  CHECK(backoff.next() == 200ms);
  backoff.reset();
  CHECK(backoff.next() == 100ms);
}

TEST_CASE("backoff: jitter stays within [d, d * (1 + jitter))", "[unit]") {
  ExponentialBackoff backoff(
      BackoffOptions{.initial = 1000ms, .max = 1000ms, .factor = 2.0, .jitter = 0.5});
  for (int i = 0; i < 50; ++i) {
    auto delay = backoff.next();
    CHECK(delay >= 1000ms);
    CHECK(delay < 1500ms);
  }
}

TEST_CASE("work queue: FIFO with duplicate keys collapsed", "[unit]") {
  WorkQueue queue;
  queue.add("a");
  queue.add("b");
  queue.add("a");
  CHECK(queue.size() == 2);
  CHECK(queue.get() == "a");
  CHECK(queue.get() == "b");
  CHECK(queue.size() == 0);
  CHECK_FALSE(queue.getUntil(Clock::now() + 10ms).has_value());
}

TEST_CASE("work queue: a key added while processing comes back only after done", "[unit]") {
  WorkQueue queue;
  queue.add("a");
  auto key = queue.get();
  REQUIRE(key == "a");
  queue.add("a");
  queue.add("a");
  // Not handed to a second worker while the first still holds it.
  CHECK_FALSE(queue.getUntil(Clock::now() + 20ms).has_value());
  queue.done("a");
  CHECK(queue.getUntil(Clock::now() + 1s) == "a");
  queue.done("a");
  CHECK_FALSE(queue.getUntil(Clock::now() + 10ms).has_value());
}

TEST_CASE("work queue: per-key backoff grows until forget", "[unit]") {
  WorkQueue queue(
      WorkQueueOptions{.backoff = {.initial = 20ms, .max = 1s, .factor = 2.0, .jitter = 0.0}});
  auto start = Clock::now();
  queue.addRateLimited("a");
  CHECK(queue.numRequeues("a") == 1);
  CHECK(queue.size() == 0);
  auto key = queue.getUntil(Clock::now() + 2s);
  REQUIRE(key == "a");
  CHECK(Clock::now() - start >= 20ms);
  queue.done("a");
  start = Clock::now();
  queue.addRateLimited("a");
  key = queue.getUntil(Clock::now() + 2s);
  REQUIRE(key == "a");
  CHECK(Clock::now() - start >= 40ms);
  CHECK(queue.numRequeues("a") == 2);
  queue.done("a");
  queue.forget("a");
  CHECK(queue.numRequeues("a") == 0);
  // Another key has its own backoff.
  queue.addRateLimited("b");
  CHECK(queue.numRequeues("b") == 1);
}

TEST_CASE("work queue: addAfter delays, and an immediate add wins", "[unit]") {
  WorkQueue queue;
  queue.addAfter("late", 50ms);
  queue.add("now");
  CHECK(queue.get() == "now");
  queue.done("now");
  auto start = Clock::now();
  CHECK(queue.getUntil(Clock::now() + 2s) == "late");
  CHECK(Clock::now() - start >= 30ms);
}

TEST_CASE("work queue: shutDown wakes waiters and drains what is queued", "[unit]") {
  WorkQueue queue;
  std::atomic<int> ended{0};
  std::thread waiter([&] {
    while (queue.get()) {
    }
    ended = 1;
  });
  queue.shutDown();
  waiter.join();
  CHECK(ended == 1);
  WorkQueue draining;
  draining.add("x");
  draining.addAfter("dropped", 10ms);
  draining.shutDown();
  CHECK(draining.get() == "x");
  CHECK_FALSE(draining.get().has_value());
  draining.add("ignored");
  CHECK_FALSE(draining.get().has_value());
}

TEST_CASE("work queue: several workers each key processed once per add", "[unit]") {
  WorkQueue queue;
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  workers.reserve(4);
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        ++processed;
        queue.done(*key);
      }
    });
  }
  for (int i = 0; i < 1000; ++i) queue.add("key-" + std::to_string(i));
  auto deadline = Clock::now() + 5s;
  while (processed < 1000 && Clock::now() < deadline) std::this_thread::yield();
  queue.shutDown();
  for (auto& worker : workers) worker.join();
  CHECK(processed == 1000);
}

}  // namespace
}  // namespace sluice::kube
