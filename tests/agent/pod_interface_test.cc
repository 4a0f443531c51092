// Root tests of pod veth plumbing in real network namespaces.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

#include <unistd.h>

#include "agent/pod_interface.h"

namespace sluice::agent {
namespace {

std::string run(const std::string& command) {
  std::array<char, 4096> buffer{};
  std::string output;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen((command + " 2>&1").c_str(), "r"), ::pclose);
  while (pipe && std::fgets(buffer.data(), buffer.size(), pipe.get())) output += buffer.data();
  return output;
}

// A named netns that is removed even when the test fails.
struct ScopedNetns {
  std::string name = "sl-ifc-" + std::to_string(::getpid());
  ScopedNetns() { run("ip netns add " + name); }
  ~ScopedNetns() { run("ip netns del " + name); }
  std::string path() const { return "/run/netns/" + name; }
  std::string exec(const std::string& command) const {
    return run("ip netns exec " + name + " " + command);
  }
};

TEST_CASE("a pod veth gets its IP, route, MTU and checksum setting, and goes away", "[netns]") {
  ScopedNetns pod;
  PodInterfaceSpec spec;
  spec.netnsPath = pod.path();
  spec.hostIfName = hostInterfaceName("container-1", "eth0");
  spec.ip = *parseIpv4("10.244.7.5");
  spec.gateway = *parseIpv4("10.244.7.1");
  spec.mtu = 1450;
  auto created = createPodInterface(spec);
  REQUIRE(created.ok());
  CHECK(created->hostIfName.size() <= 15);
  CHECK(created->podMac.size() == 17);

  const auto address = pod.exec("ip -4 -o addr show dev eth0");
  CHECK_THAT(address, Catch::Contains("10.244.7.5/24"));
  CHECK_THAT(pod.exec("ip route show default"), Catch::Contains("via 10.244.7.1 dev eth0"));
  CHECK_THAT(pod.exec("ip -o link show dev eth0"), Catch::Contains("mtu 1450"));
  CHECK_THAT(pod.exec("ethtool -k eth0"), Catch::Contains("tx-checksumming: off"));
  CHECK_THAT(run("ip -o link show dev " + spec.hostIfName), Catch::Contains("mtu 1450"));
  CHECK(checkPodInterface(spec).ok());

  REQUIRE(deletePodInterface(spec.hostIfName).ok());
  CHECK(deletePodInterface(spec.hostIfName).ok());  // idempotent
  CHECK_THAT(run("ip link show dev " + spec.hostIfName), Catch::Contains("does not exist"));
  CHECK_FALSE(checkPodInterface(spec).ok());
}

TEST_CASE("a missing netns is a clear error and leaves no veth", "[netns]") {
  PodInterfaceSpec spec;
  spec.netnsPath = "/run/netns/sl-no-such-netns";
  spec.hostIfName = hostInterfaceName("container-2", "eth0");
  spec.ip = *parseIpv4("10.244.7.6");
  spec.gateway = *parseIpv4("10.244.7.1");
  auto created = createPodInterface(spec);
  REQUIRE_FALSE(created.ok());
  CHECK_THAT(created.error().message,
             Catch::Contains("sl-no-such-netns") && Catch::Contains("does not exist"));
  CHECK_THAT(run("ip link show dev " + spec.hostIfName), Catch::Contains("does not exist"));
}

TEST_CASE("host interface names are stable and short", "[unit]") {
  CHECK(hostInterfaceName("abc", "eth0") == hostInterfaceName("abc", "eth0"));
  CHECK(hostInterfaceName("abc", "eth0") != hostInterfaceName("abd", "eth0"));
  CHECK(hostInterfaceName("abc", "eth0").size() == 14);
}

}  // namespace
}  // namespace sluice::agent
