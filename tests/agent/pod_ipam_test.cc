// Unit tests of pod IPAM: idempotent allocation, exhaustion, restart persistence, garbage
// collection.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include <unistd.h>

#include "agent/pod_ipam.h"

namespace sluice::agent {
namespace {

TEST_CASE("pod IPs skip network, gateway and broadcast, and repeat per attachment", "[unit]") {
  auto ipam = PodIpam::create("10.244.1.0/29");
  REQUIRE(ipam);
  CHECK(formatIpv4(ipam->gateway()) == "10.244.1.1");
  CHECK(ipam->capacity() == 5);
  auto first = ipam->allocate({"c1", "eth0", "prod/web"});
  REQUIRE(first);
  CHECK(formatIpv4(*first) == "10.244.1.2");
  CHECK(*ipam->allocate({"c1", "eth0", "prod/web"}) == *first);  // a retried ADD
  std::set<Ipv4> seen{*first};
  for (int i = 2; i <= 5; ++i) {
    auto ip = ipam->allocate({"c" + std::to_string(i), "eth0", ""});
    REQUIRE(ip);
    CHECK(seen.insert(*ip).second);
    CHECK(*ip != ipam->cidr().last());
  }
  auto exhausted = ipam->allocate({"c6", "eth0", ""});
  REQUIRE_FALSE(exhausted);
  CHECK_THAT(exhausted.error().message,
             Catch::Contains("exhausted") && Catch::Contains("10.244.1.0/29"));
  ipam->release("c3", "eth0");
  ipam->release("c3", "eth0");  // DEL twice
  CHECK(ipam->allocate({"c6", "eth0", ""}).ok());
}

TEST_CASE("bad podCIDRs are rejected with the field to fix", "[unit]") {
  CHECK_THAT(PodIpam::create("10.244.1.1/24").error().message, Catch::Contains("spec.podCIDR"));
  CHECK_FALSE(PodIpam::create("10.244.1.0/31").ok());
}

TEST_CASE("allocations survive a restart through the saved table", "[unit]") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("sl-ipam-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "ipam.json").string();
  auto ipam = loadPodIpam(path, "10.244.2.0/24");
  REQUIRE(ipam);
  const auto a = *ipam->allocate({"a", "eth0", "ns/a"});
  const auto b = *ipam->allocate({"b", "eth0", "ns/b"});
  REQUIRE(savePodIpam(path, *ipam).ok());

  auto restarted = loadPodIpam(path, "10.244.2.0/24");
  REQUIRE(restarted);
  CHECK(restarted->find("a", "eth0") == a);
  const auto c = *restarted->allocate({"c", "eth0", ""});
  CHECK(c != a);
  CHECK(c != b);
  CHECK_FALSE(loadPodIpam(path, "10.244.9.0/24").ok());  // the podCIDR changed under us

  const auto freed = restarted->collectGarbage({"a", "c"});
  REQUIRE(freed.size() == 1);
  CHECK(freed[0].containerId == "b");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::agent
