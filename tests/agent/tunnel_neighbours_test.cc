// Remote nodes' tunnel neighbours: handed to ovs-vswitchd once the kernel knows them, asked for
// again until it does.
#include <catch2/catch.hpp>

#include <thread>

#include "agent/tunnel_neighbours.h"
#include "fakes.h"

namespace sluice::agent {
namespace {

using namespace std::chrono_literals;

// A TaskLoop on its own thread for the test's duration.
struct RunningLoop {
  TaskLoop loop;
  std::thread thread{[this] { loop.run(); }};
  ~RunningLoop() {
    loop.stop();
    thread.join();
  }
};

bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);  // polling, with a deadline
  }
  return true;
}

TEST_CASE("a known neighbour is handed to ovs-vswitchd at once", "[unit]") {
  testing::FakeNeighbourTable table;
  testing::FakeOvsControl control;
  const auto node = *parseIpv4("10.10.2.2");
  table.learn(node, "02:00:00:00:02:02");
  RunningLoop running;
  TunnelNeighbours neighbours(running.loop, table, control, {.bridge = "br-phy"});
  running.loop.call([&] { neighbours.resolve(node); });
  CHECK(running.loop.call([&] { return neighbours.resolved(node); }));
  CHECK(running.loop.call([&] { return control.commands; }) ==
        std::vector<std::string>{"tnl/neigh/set 'br-phy' '10.10.2.2' '02:00:00:00:02:02'"});
  CHECK(table.probeCount() == 0);
}

TEST_CASE("an unknown neighbour is probed and retried until the kernel knows it", "[unit]") {
  testing::FakeNeighbourTable table;
  testing::FakeOvsControl control;
  const auto node = *parseIpv4("10.10.2.3");
  RunningLoop running;
  TunnelNeighbours neighbours(running.loop, table, control,
                              {.bridge = "br-phy", .firstRetry = 1ms, .maxRetry = 5ms});
  running.loop.call([&] { neighbours.resolve(node); });
  CHECK_FALSE(running.loop.call([&] { return neighbours.resolved(node); }));
  REQUIRE(eventually([&] { return table.probeCount() >= 3; }));
  table.learn(node, "02:00:00:00:02:03");
  CHECK(eventually([&] { return running.loop.call([&] { return neighbours.resolved(node); }); }));
  // After an ovs-vswitchd restart it is handed over again.
  running.loop.call([&] { neighbours.refreshAll(); });
  CHECK(running.loop.call([&] { return control.commands.size(); }) == 2);
  // A forgotten node is not retried.
  running.loop.call([&] { neighbours.forget(node); });
  CHECK_FALSE(running.loop.call([&] { return neighbours.resolved(node); }));
}

TEST_CASE("after a restart the known neighbour is handed over at once, kernel or not", "[unit]") {
  testing::FakeNeighbourTable table;
  testing::FakeOvsControl control;
  const auto node = *parseIpv4("10.10.2.4");
  table.learn(node, "02:00:00:00:02:04");
  RunningLoop running;
  TunnelNeighbours neighbours(running.loop, table, control,
                              {.bridge = "br-phy", .firstRetry = 1ms, .maxRetry = 5ms});
  running.loop.call([&] { neighbours.resolve(node); });
  // ovs-vswitchd restarts: on the userspace datapath br-phy, and the kernel's entry, go with it.
  {
    std::lock_guard lock(table.mutex);
    table.macs.clear();
  }
  running.loop.call([&] { neighbours.refreshAll(); });
  CHECK(running.loop.call([&] { return neighbours.resolved(node); }));
  CHECK(running.loop.call([&] { return control.commands; }) ==
        std::vector<std::string>(2, "tnl/neigh/set 'br-phy' '10.10.2.4' '02:00:00:00:02:04'"));
  CHECK(table.probeCount() == 1);  // and the kernel is made to learn it again
}

}  // namespace
}  // namespace sluice::agent
