// Peer probers on real UDP sockets bound to loopback addresses (127.0.0.x, one per "node"), and
// their liveness reporters against a fake leader: with the controller gone a majority of the
// witnesses keeps a node holding, a node that hears from too few of them fences.
#include "agent/peer_prober.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include <catch2/catch.hpp>

#include "agent/liveness_reporter.h"
#include "common/http_server.h"
#include "testing/conditions.h"

namespace sluice::agent {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using sluice::testing::holdsThroughout;
using sluice::testing::waitFor;

std::string loopback(int host) { return "127.0.0." + std::to_string(host); }

struct Node {
  std::string name;
  std::string address;
  std::unique_ptr<PeerProber> prober;
  std::unique_ptr<LivenessReporter> reporter;
  std::atomic<int> fences{0};
  std::atomic<int> unfences{0};
};

// `count` nodes node1..nodeN on 127.0.0.(10+i), each probing the others every interval.
std::vector<std::unique_ptr<Node>> startNodes(int count, std::chrono::milliseconds interval) {
  std::vector<std::unique_ptr<Node>> nodes;
  for (int i = 1; i <= count; ++i) {
    auto node = std::make_unique<Node>();
    node->name = "node" + std::to_string(i);
    node->address = loopback(10 + i);
    node->prober = std::make_unique<PeerProber>(PeerProberOptions{.nodeName = node->name,
                                                                  .bindAddress = node->address,
                                                                  .port = 0,
                                                                  .witnesses = kDefaultWitnesses,
                                                                  .probeInterval = interval});
    REQUIRE(node->prober->start());
    nodes.push_back(std::move(node));
  }
  std::map<std::string, PeerEndpoint> peers;
  for (const auto& node : nodes)
    peers[node->name] = PeerEndpoint{.ip = *parseIpv4(node->address), .port = node->prober->port()};
  for (const auto& node : nodes) node->prober->setPeers(peers);
  return nodes;
}

TEST_CASE("two probers acknowledge each other and ignore malformed datagrams", "[http]") {
  auto nodes = startNodes(2, 20ms);
  auto& first = *nodes[0];
  auto& second = *nodes[1];
  REQUIRE(waitFor([&] { return first.prober->snapshot().ackedSentAt.contains("node2"); }, 2s));
  REQUIRE(waitFor([&] { return second.prober->snapshot().ackedSentAt.contains("node1"); }, 2s));
  const auto snapshot = first.prober->snapshot();
  CHECK(snapshot.declared == std::vector<std::string>{"node2"});
  // node2 probes node1 (node1 is its witness): node1 heard it just now.
  REQUIRE(snapshot.heardMs.contains("node2"));
  CHECK(snapshot.heardMs.at("node2") < 1000);
  CHECK(first.prober->stats().probesAnswered > 0);
  CHECK(first.prober->reachable(300ms) == 1);

  // Garbage to node1's port: counted, not answered, not fatal.
  const int sender = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(sender >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(first.prober->port());
  ::inet_pton(AF_INET, first.address.c_str(), &to.sin_addr);
  const std::string garbage = "SLPW\x09 not a probe";
  REQUIRE(::sendto(sender, garbage.data(), garbage.size(), 0, reinterpret_cast<sockaddr*>(&to),
                   sizeof to) == static_cast<ssize_t>(garbage.size()));
  ::close(sender);
  REQUIRE(waitFor([&] { return first.prober->stats().malformed == 1; }, 2s));
  const auto answered = first.prober->stats().probesAnswered;
  CHECK(waitFor([&] { return first.prober->stats().probesAnswered > answered; }, 2s));

  // node2 stops: node1's record of it ages, and "heard" says for how long.
  second.prober->stop();
  REQUIRE(waitFor([&] { return first.prober->snapshot().heardMs.at("node2") >= 300; }, 3s));
  CHECK(first.prober->reachable(300ms) == 0);
}

// A leader that answers every report, and records the last body.
struct FakeLeader {
  HttpServer server{HttpServerOptions{.listenAddress = "127.0.0.1:0"}};
  std::atomic<int> reports{0};
  FakeLeader() {
    server.route("POST", "/v1/report", [this](const HttpRequest&) {
      ++reports;
      return HttpResponse{
          200, "application/json", R"({"leader":true,"epoch":3,"nodeSilenceTimeoutMs":1000})", {}};
    });
    REQUIRE(server.start());
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server.port()); }
};

TEST_CASE(
    "with the controller gone a majority of witnesses keeps nodes holding, and a node that "
    "hears from too few fences",
    "[http]") {
  // Slower than production (100ms/300ms) so that a loaded test machine's stalls do not fence.
  const auto interval = 50ms;
  const auto fencingTimeout = 400ms;
  auto nodes = startNodes(4, interval);  // each node's witnesses: the other three
  FakeLeader leader;
  for (auto& node : nodes) {
    Node* raw = node.get();
    node->reporter = std::make_unique<LivenessReporter>(
        LivenessReporterOptions{.nodeName = node->name,
                                .controllerAddress = leader.address(),
                                .reportInterval = interval,
                                .fencingTimeout = fencingTimeout,
                                .witnesses = node->prober.get(),
                                .onFenced = [raw] { ++raw->fences; },
                                .onUnfenced = [raw] { ++raw->unfences; }});
    REQUIRE(node->reporter->start());
  }
  auto unfenced = [&](std::initializer_list<int> indexes) {
    return std::all_of(indexes.begin(), indexes.end(), [&](int i) {
      return !nodes[static_cast<std::size_t>(i)]->reporter->fenced();
    });
  };
  // The leader hears each node and confirms its witness set.
  REQUIRE(waitFor([&] { return unfenced({0, 1, 2, 3}); }, 5s));
  for (auto& node : nodes) {
    REQUIRE(waitFor([&] { return node->reporter->holdingRule() == HoldingRule::kBoth; }, 5s));
    CHECK(node->prober->snapshot().required.size() == 1);  // confirmed, nothing pending
  }

  // The controller goes away: every node keeps holding by its witnesses.
  leader.server.stop();
  REQUIRE(
      waitFor([&] { return nodes[0]->reporter->holdingRule() == HoldingRule::kWitnesses; }, 3s));
  CHECK(holdsThroughout([&] { return unfenced({0, 1, 2, 3}); }, 3 * fencingTimeout));
  for (auto& node : nodes) CHECK(node->fences == 0);

  // node4 is cut off (its socket closes): no leader, no witness, so it fences; the others keep
  // two of their three witnesses.
  nodes[3]->prober->stop();
  const auto cut = Clock::now();
  REQUIRE(waitFor([&] { return nodes[3]->fences == 1; }, 3s));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - cut);
  // Fenced fencingTimeout after the last acknowledged probe was sent, at most an interval before
  // the cut; the slack is for a loaded machine.
  CHECK(took < fencingTimeout + interval + 200ms);
  CHECK(holdsThroughout([&] { return unfenced({0, 1, 2}); }, 3 * fencingTimeout));

  // node3 goes too: one witness of three is a minority, and the rest fence.
  nodes[2]->prober->stop();
  REQUIRE(waitFor([&] { return nodes[0]->fences == 1 && nodes[1]->fences == 1; }, 3s));
  CHECK(nodes[0]->reporter->fenced());
  CHECK(nodes[1]->reporter->holdingRule() == HoldingRule::kNone);
  for (auto& node : nodes) node->reporter->stop();
}

}  // namespace
}  // namespace sluice::agent
