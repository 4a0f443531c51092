// Root test: an ingress guard stops the kernel from seeing frames on a device, and goes away.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <memory>

#include <unistd.h>

#include "agent/ingress_guard.h"
#include "agent/netlink.h"

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

struct TwoHosts {
  std::string a = "sl-ig-a-" + std::to_string(::getpid());
  std::string b = "sl-ig-b-" + std::to_string(::getpid());
  TwoHosts() {
    run("ip netns add " + a + " && ip netns add " + b);
    run("ip -n " + a + " link add va type veth peer name vb netns " + b);
    run("ip -n " + a + " addr add 10.99.0.1/24 dev va && ip -n " + a + " link set va up");
    run("ip -n " + b + " addr add 10.99.0.2/24 dev vb && ip -n " + b + " link set vb up");
  }
  ~TwoHosts() { run("ip netns del " + a + "; ip netns del " + b); }
  bool ping() {
    return run("ip netns exec " + b + " ping -c 1 -W 1 10.99.0.1").find("rc=0") !=
           std::string::npos;
  }
};

TEST_CASE("an ingress guard drops what the kernel would see, and unguard restores it", "[netns]") {
  TwoHosts hosts;
  REQUIRE(hosts.ping());
  auto result = netlink::inNetns("/run/netns/" + hosts.a, [&]() -> Result<void> {
    auto guard = IngressGuard::create("sluicetest");
    if (!guard) return guard.error();
    if (auto guarded = (*guard)->guard("va"); !guarded) return guarded;
    if (auto again = (*guard)->guard("va"); !again) return again;  // idempotent
    if (!(*guard)->guarded("va")) return makeError("not guarded");
    return {};
  });
  REQUIRE(result.ok());
  CHECK_FALSE(hosts.ping());
  result = netlink::inNetns("/run/netns/" + hosts.a, [&]() -> Result<void> {
    auto guard = IngressGuard::create("sluicetest");
    if (!guard) return guard.error();
    if (auto removed = (*guard)->unguard("va"); !removed) return removed;
    return (*guard)->unguard("va");  // a second time is fine
  });
  REQUIRE(result.ok());
  CHECK(hosts.ping());
}

}  // namespace
}  // namespace sluice::agent
