// Root test: NodeServiceHost in a network namespace of its own: the nftables table, the routes and
// the neighbour of the proxy's node side appear, follow the NodePorts, and go with the proxy off.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <memory>

#include <unistd.h>

#include "agent/netlink.h"
#include "agent/service_host.h"

namespace sluice::agent {
namespace {

std::string run(const std::string& command) {
  std::array<char, 4096> buffer{};
  std::string output;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen((command + " 2>&1; echo rc=$?").c_str(), "r"),
                                             ::pclose);
  while (pipe && std::fgets(buffer.data(), buffer.size(), pipe.get())) output += buffer.data();
  return output;
}

struct Node {
  std::string name = "sl-svc-" + std::to_string(::getpid());
  Node() {
    run("ip netns add " + name);
    run("ip -n " + name + " link add gw0 type veth peer name gw0p && ip -n " + name +
        " link set gw0 up && ip -n " + name + " link set gw0p up");
    run("ip -n " + name + " addr add 10.244.1.1/24 dev gw0");
  }
  ~Node() { run("ip netns del " + name); }
  std::string in(const std::string& command) const {
    return run("ip netns exec " + name + " " + command);
  }
};

TEST_CASE("the node side of the proxy: nftables, routes and neighbour, then gone", "[netns]") {
  Node node;
  ServiceHostPlan plan{.enabled = true,
                       .nodeIp = *parseIpv4("10.10.2.1"),
                       .nodePortAddresses = {},
                       .serviceCidr = *parseCidr("10.96.0.0/12"),
                       .gateway = "gw0",
                       .nodePorts = {{features::ServiceProtocol::kTcp, 30080, true}}};
  auto apply = [&](const ServiceHostPlan& wanted) {
    return netlink::inNetns("/run/netns/" + node.name, [&]() -> Result<void> {
      auto host = NodeServiceHost::create();
      if (!host) return host.error();
      if (auto applied = (*host)->apply(wanted); !applied) return applied;
      return (*host)->apply(wanted);  // idempotent
    });
  };
  auto applied = apply(plan);
  INFO((applied ? std::string() : applied.error().message));
  REQUIRE(applied.ok());
  auto table = node.in("nft list table ip sluice-proxy");
  CHECK_THAT(table, Catch::Contains("tcp dport 30080 dnat to 169.254.0.252"));
  CHECK_THAT(table, Catch::Contains("masquerade"));
  CHECK_THAT(table, Catch::Contains("reject with tcp reset"));
  CHECK_THAT(node.in("ip route show 169.254.0.252"), Catch::Contains("dev gw0"));
  CHECK_THAT(node.in("ip route show 10.96.0.0/12"),
             Catch::Contains("via 169.254.0.252 dev gw0") && Catch::Contains("onlink"));
  CHECK_THAT(node.in("ip neigh show 169.254.0.252 dev gw0"),
             Catch::Contains("aa:bb:cc:dd:ee:fe") && Catch::Contains("PERMANENT"));

  // Another NodePort: the table is replaced, not appended to.
  plan.nodePorts = {{features::ServiceProtocol::kUdp, 30053, false}};
  REQUIRE(apply(plan).ok());
  table = node.in("nft list table ip sluice-proxy");
  CHECK_THAT(table, Catch::Contains("udp dport 30053 dnat to 169.254.0.252"));
  CHECK_THAT(table, !Catch::Contains("30080"));
  CHECK_THAT(table, !Catch::Contains("masquerade"));

  // The proxy off: nothing of it is left, but what OVS SNATed stays untracked.
  plan.enabled = false;
  REQUIRE(apply(plan).ok());
  CHECK_THAT(node.in("nft list table ip sluice-snat"),
             Catch::Contains("iifname \"gw0\" ether saddr aa:bb:cc:dd:ee:fd notrack"));
  CHECK_THAT(node.in("nft list tables"), !Catch::Contains("sluice-proxy"));
  CHECK_THAT(node.in("ip route show 169.254.0.252"), Catch::Equals("rc=0\n"));
  CHECK_THAT(node.in("ip route show 10.96.0.0/12"), Catch::Equals("rc=0\n"));
  CHECK_THAT(node.in("ip neigh show 169.254.0.252 dev gw0"), !Catch::Contains("aa:bb:cc"));
}

}  // namespace
}  // namespace sluice::agent
