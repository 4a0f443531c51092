// Pod networking end to end in the lab: real OVS daemons, real namespaces, real packets.
#include <catch2/catch.hpp>

#include <regex>

#include "lab_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

int count(const std::string& text, const std::string& needle) {
  int found = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++found;
  return found;
}

// "N received" from ping's summary.
int received(const std::string& pingOutput) {
  std::smatch match;
  if (std::regex_search(pingOutput, match, std::regex("(\\d+) (packets )?received")))
    return std::stoi(match[1]);
  return -1;
}

TEST_CASE("pods on three nodes reach each other, over TCP too, and the outside with the node IP",
          "[lab]") {
  Lab lab({.nodes = 3});
  REQUIRE(lab.up());
  std::vector<std::pair<std::string, std::string>> pods;  // name, IP
  for (int node = 1; node <= 3; ++node) {
    for (const char* suffix : {"a", "b"}) {
      const auto name = "p" + std::to_string(node) + suffix;
      const auto ip = lab.addPod(name, "node0" + std::to_string(node));
      INFO(lab.lastOutput());
      REQUIRE_FALSE(ip.empty());
      pods.emplace_back(name, ip);
    }
  }
  for (const auto& [from, fromIp] : pods) {
    for (const auto& [to, toIp] : pods) {
      if (from == to) continue;
      INFO(from << " -> " << to << " (" << toIp << ")");
      // The first packet to a new node may wait on the tunnel's ARP: retry within a deadline.
      // Copies: a lambda cannot capture structured bindings before C++20's fix in clang 16.
      CHECK(waitFor(
          5s, [&lab, source = from, target = toIp] { return lab.ping(source, target); }, 50ms));
    }
  }

  // TTL: a neighbour pod on the same node is switched (64); a pod on another node is two routed
  // hops away, this node's gateway and the other's (62), as with Antrea.
  const auto sameNode = lab.exec("p1a", "ping -c 1 -W 1 " + pods[1].second);
  INFO(sameNode.output);
  CHECK_THAT(sameNode.output, Catch::Contains("ttl=64"));
  const auto otherNode = lab.exec("p1a", "ping -c 1 -W 1 " + pods[2].second);
  INFO(otherNode.output);
  CHECK_THAT(otherNode.output, Catch::Contains("ttl=62"));

  // TCP across nodes: a bounded iperf3 server in p2a, a client in p1a.
  REQUIRE(lab.exec("p2a", "(timeout 20 iperf3 -s -1 >/dev/null 2>&1 &)").ok());
  CommandResult client;
  REQUIRE(waitFor(
      10s,
      [&] {
        client = lab.exec("p1a", "iperf3 -c " + pods[2].second + " -t 1 -J");
        return client.ok();
      },
      100ms));
  CHECK_THAT(client.output, Catch::Contains("\"bits_per_second\""));

  // The external host answers with the source it saw: the node's IP.
  for (int node = 1; node <= 3; ++node) {
    const auto pod = "p" + std::to_string(node) + "a";
    CommandResult seen;
    INFO(pod);
    CHECK(waitFor(
        5s,
        [&] {
          seen = lab.exec(pod, "exec 3<>/dev/tcp/10.10.3.1/8080; head -1 <&3");
          return seen.ok();
        },
        50ms));
    CHECK(seen.output == "10.10.2." + std::to_string(node) + "\n");
  }
}

TEST_CASE("deleting a pod removes its port, its flows and its IP", "[lab]") {
  Lab lab({.nodes = 1});
  REQUIRE(lab.up());
  const auto ip = lab.addPod("gone", "node01");
  REQUIRE_FALSE(ip.empty());
  // Pod ports are "sl" + 12 hex digits (hostInterfaceName).
  auto ports = [&] {
    return lab.nodeExec("node01", "ovs-vsctl list-ports br-int | grep -c '^sl[0-9a-f]\\{12\\}$'")
        .output;
  };
  auto flows = [&] {
    return lab.nodeExec("node01", "ovs-ofctl -O OpenFlow15 dump-flows br-int").output;
  };
  auto ipam = [&] {
    return lab.nodeExec("node01", "cat " + lab.stateDir() + "/nodes/node01/state/ipam.json").output;
  };
  CHECK(ports() == "1\n");
  // Delivery to the pod: switched (to its own MAC), routed (through L3DecTTL), and hairpin (the
  // pod reached itself through a Service).
  CHECK(count(flows(), "nw_dst=" + ip) == 3);
  CHECK(count(flows(), "nw_src=" + ip + ",nw_dst=" + ip) == 1);
  CHECK(count(ipam(), ip) == 1);
  REQUIRE(lab.lab("pod del gone").ok());
  CHECK(ports() == "0\n");
  CHECK(count(flows(), ip) == 0);
  CHECK(count(ipam(), ip) == 0);
  // The name is free again and the pod works.
  const auto again = lab.addPod("gone", "node01");
  CHECK_FALSE(again.empty());
}

TEST_CASE("restarting an agent loses no packet; restarting ovs-vswitchd recovers within 2 s",
          "[lab]") {
  Lab lab({.nodes = 2});
  REQUIRE(lab.up());
  const auto ipA = lab.addPod("a", "node01");
  const auto ipB = lab.addPod("b", "node02");
  REQUIRE_FALSE(ipB.empty());
  REQUIRE(waitFor(
      5s, [&] { return lab.ping("a", ipB); }, 50ms));

  SECTION("agent restart") {
    // 400 pings, 10 ms apart, across the agent's kill -9 and restart on the sending node.
    const auto log = lab.stateDir() + "/ping.log";
    REQUIRE(lab.exec("a", "(ping -i 0.01 -c 400 -W 1 " + ipB + " > " + log + " 2>&1 &)").ok());
    REQUIRE(lab.lab("node agent-restart node01").ok());
    std::string summary;
    REQUIRE(waitFor(
        15s,
        [&] {
          summary = shell("cat " + log).output;
          return summary.find("packet loss") != std::string::npos;
        },
        100ms));
    INFO(summary);
    CHECK(received(summary) == 400);
  }
  SECTION("ovs-vswitchd restart") {
    REQUIRE(lab.lab("node ovs-restart node01").ok());
    const auto started = std::chrono::steady_clock::now();
    const bool back = waitFor(
        2s, [&] { return lab.exec("a", "ping -c 1 -W 0.2 " + ipB).ok(); }, 10ms);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    INFO("recovered after " << took.count() << " ms");
    CHECK(back);
    CHECK(lab.ping("b", ipA));
  }
}

TEST_CASE("the first packet to another node gets through, also after an ovs-vswitchd restart",
          "[lab]") {
  // OVS's userspace tunnelling drops the packet that makes it look for the remote node's MAC; the
  // agent hands it the MAC before traffic needs it (src/agent/tunnel_neighbours.h).
  Lab lab({.nodes = 2});
  REQUIRE(lab.up());
  const auto ipA = lab.addPod("a", "node01");
  const auto ipB = lab.addPod("b", "node02");
  REQUIRE_FALSE(ipB.empty());
  auto first = lab.exec("a", "ping -c 1 -W 2 " + ipB);
  INFO(first.output);
  CHECK(first.ok());

  // A restarted ovs-vswitchd starts with no neighbours, while the kernel still has its entry
  // (so it sends no ARP that OVS could learn from).
  REQUIRE(lab.lab("node ovs-restart node01").ok());
  const auto remotePodCidr = ipB.substr(0, ipB.rfind('.')) + ".0/24";
  REQUIRE(waitFor(
      10s,
      [&] {
        const auto flows = lab.nodeExec("node01", "ovs-ofctl -O OpenFlow15 dump-flows br-int");
        const auto waiting =
            lab.nodeExec("node01", "ovs-vsctl get Open_vSwitch . other_config").output;
        return flows.ok() && flows.output.find(remotePodCidr) != std::string::npos &&
               waiting.find("flow-restore-wait") == std::string::npos;
      },
      50ms));
  auto afterRestart = lab.exec("a", "ping -c 1 -W 2 " + ipB);
  INFO(afterRestart.output);
  CHECK(afterRestart.ok());
  CHECK(lab.ping("b", ipA));
}

TEST_CASE("bad CNI input gets CNI errors and leaves no veth, port or IP behind", "[lab]") {
  Lab lab({.nodes = 1, .podPrefix = 29});  // 5 pod IPs
  REQUIRE(lab.up());
  const auto conf = lab.stateDir() + "/nodes/node01/10-sluice.conf";
  const std::string cni = std::string(SLUICE_BUILD_ROOT) + "/src/cni/sluice-cni";
  auto run = [&](const std::string& environment, const std::string& input) {
    return lab.nodeExec("node01", "env -i " + environment + " " + cni + " < " + input);
  };
  const std::string good = "CNI_COMMAND=ADD CNI_CONTAINERID=bad1 CNI_IFNAME=eth0 CNI_PATH=/x ";
  auto state = [&] {
    return lab
        .nodeExec("node01",
                  "ovs-vsctl list-ports br-int; ip -o link | grep -c '^[0-9]*: sl'; cat " +
                      lab.stateDir() +
                      "/nodes/node01/state/ipam.json 2>/dev/null | grep -c '\"ip\"'")
        .output;
  };
  const auto before = state();
  REQUIRE(shell("ip netns add " + lab.name() + "-badns").ok());
  const std::string netns = "CNI_NETNS=/run/netns/" + lab.name() + "-badns ";

  shell("echo '{not json' > /tmp/" + lab.name() + "-bad.json");
  auto result = run(good + netns, "/tmp/" + lab.name() + "-bad.json");
  CHECK(result.exitCode != 0);
  CHECK_THAT(result.output, Catch::Contains("\"code\":6"));
  shell("echo '{\"cniVersion\":\"9.9.9\",\"name\":\"sluice\",\"type\":\"sluice-cni\"}' > /tmp/" +
        lab.name() + "-bad.json");
  CHECK_THAT(run(good + netns, "/tmp/" + lab.name() + "-bad.json").output,
             Catch::Contains("\"code\":1"));
  shell("rm -f /tmp/" + lab.name() + "-bad.json");
  CHECK_THAT(run(good, conf).output, Catch::Contains("\"code\":4"));
  CHECK_THAT(run(good + "CNI_NETNS=/run/netns/" + lab.name() + "-nope ", conf).output,
             Catch::Contains("\"code\":3"));
  CHECK(state() == before);

  for (int i = 0; i < 5; ++i)
    REQUIRE_FALSE(lab.addPod("fill" + std::to_string(i), "node01").empty());
  const auto full = state();
  result = run(good + netns, conf);
  CHECK_THAT(result.output, Catch::Contains("\"code\":11") && Catch::Contains("exhausted"));
  CHECK(state() == full);

  REQUIRE(lab.lab("node agent-stop node01").ok());
  result = run(good + netns, conf);
  CHECK_THAT(result.output, Catch::Contains("\"code\":11") && Catch::Contains("not answering"));
  CHECK(state() == full);
  shell("ip netns del " + lab.name() + "-badns");
}

}  // namespace
}  // namespace sluice::testing
