// Unit tests of CniService with fake interfaces and datapath: rollback leaves nothing behind.
#include <catch2/catch.hpp>

#include "agent/cni_service.h"

namespace sluice::agent {
namespace {

class FakeInterfaces : public InterfaceOps {
 public:
  std::set<std::string> existing;
  std::set<std::string> netns{"/run/netns/pod"};
  Result<PodInterface> create(const PodInterfaceSpec& spec) override {
    existing.insert(spec.hostIfName);
    return PodInterface{spec.hostIfName, "02:00:00:00:00:01", "02:00:00:00:00:02", 7};
  }
  Result<void> remove(const std::string& name) override {
    existing.erase(name);
    return {};
  }
  Result<void> check(const PodInterfaceSpec& spec) override {
    if (!existing.contains(spec.hostIfName)) return makeError("gone");
    return {};
  }
  bool netnsExists(const std::string& path) override { return netns.contains(path); }
};

class FakeDatapath : public PodDatapath {
 public:
  bool failAttach = false;
  std::set<std::string> ports;
  Result<int> attach(const PodAttachment& attachment) override {
    if (failAttach) return makeError("ovsdb: port conflict");
    ports.insert(attachment.hostIfName);
    return 10 + static_cast<int>(ports.size());
  }
  Result<void> detach(const PodAttachment& attachment) override {
    ports.erase(attachment.hostIfName);
    return {};
  }
  Result<void> ready() override { return {}; }
};

cni::Request request(cni::Command command, const std::string& containerId) {
  cni::Request request;
  request.command = command;
  request.cniVersion = "1.0.0";
  request.containerId = containerId;
  request.netns = "/run/netns/pod";
  request.ifName = "eth0";
  request.args = {{"K8S_POD_NAMESPACE", "prod"}, {"K8S_POD_NAME", "web"}};
  return request;
}

struct Fixture {
  FakeInterfaces interfaces;
  FakeDatapath datapath;
  CniService service{*PodIpam::create("10.244.1.0/29"), interfaces, datapath, CniServiceOptions{}};
};

TEST_CASE("ADD returns a 1.0.0 result and DEL undoes it twice over", "[unit]") {
  Fixture fixture;
  auto response = fixture.service.handle(request(cni::Command::kAdd, "c1"));
  REQUIRE(std::holds_alternative<nlohmann::json>(response));
  const auto& result = std::get<nlohmann::json>(response);
  CHECK(result["ips"][0]["address"] == "10.244.1.2/29");
  CHECK(result["ips"][0]["gateway"] == "10.244.1.1");
  CHECK(result["interfaces"][1]["sandbox"] == "/run/netns/pod");
  CHECK(fixture.datapath.ports.size() == 1);
  CHECK(std::holds_alternative<nlohmann::json>(
      fixture.service.handle(request(cni::Command::kCheck, "c1"))));

  CHECK(std::holds_alternative<nlohmann::json>(
      fixture.service.handle(request(cni::Command::kDel, "c1"))));
  CHECK(std::holds_alternative<nlohmann::json>(
      fixture.service.handle(request(cni::Command::kDel, "c1"))));
  CHECK(fixture.datapath.ports.empty());
  CHECK(fixture.interfaces.existing.empty());
  CHECK(fixture.service.ipam().allocations().empty());
}

TEST_CASE("a failed ADD leaves no veth, port or IP behind", "[unit]") {
  Fixture fixture;
  fixture.datapath.failAttach = true;
  auto response = fixture.service.handle(request(cni::Command::kAdd, "c1"));
  REQUIRE(std::holds_alternative<cni::CniError>(response));
  CHECK(std::get<cni::CniError>(response).code == cni::ErrorCode::kIoFailure);
  CHECK_THAT(std::get<cni::CniError>(response).details, Catch::Contains("port conflict"));
  CHECK(fixture.interfaces.existing.empty());
  CHECK(fixture.service.ipam().allocations().empty());
}

TEST_CASE("a missing netns and an exhausted podCIDR are errors with their codes", "[unit]") {
  Fixture fixture;
  auto missing = request(cni::Command::kAdd, "c1");
  missing.netns = "/run/netns/nope";
  auto response = fixture.service.handle(missing);
  REQUIRE(std::holds_alternative<cni::CniError>(response));
  CHECK(std::get<cni::CniError>(response).code == cni::ErrorCode::kContainerUnknown);
  CHECK(fixture.service.ipam().allocations().empty());

  for (int i = 0; i < 5; ++i)
    REQUIRE(std::holds_alternative<nlohmann::json>(
        fixture.service.handle(request(cni::Command::kAdd, "c" + std::to_string(i)))));
  response = fixture.service.handle(request(cni::Command::kAdd, "c9"));
  REQUIRE(std::holds_alternative<cni::CniError>(response));
  CHECK(std::get<cni::CniError>(response).code == cni::ErrorCode::kTryAgainLater);
  CHECK(fixture.datapath.ports.size() == 5);
}

TEST_CASE("GC frees attachments the runtime no longer lists", "[unit]") {
  Fixture fixture;
  (void)fixture.service.handle(request(cni::Command::kAdd, "keep"));
  (void)fixture.service.handle(request(cni::Command::kAdd, "leak"));
  auto gc = request(cni::Command::kGc, "");
  gc.config = {{"cni.dev/valid-attachments", {{{"containerID", "keep"}, {"ifname", "eth0"}}}}};
  REQUIRE(std::holds_alternative<nlohmann::json>(fixture.service.handle(gc)));
  CHECK(fixture.service.ipam().allocations().size() == 1);
  CHECK(fixture.datapath.ports.size() == 1);
  CHECK(fixture.interfaces.existing.size() == 1);
}

}  // namespace
}  // namespace sluice::agent
