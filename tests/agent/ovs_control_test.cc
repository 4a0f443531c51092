// OvsControl through libopenvswitch's unixctl client, against a real ovs-vswitchd.
#include <catch2/catch.hpp>

#include "agent/ovs_control.h"
#include "testing/ovs_sandbox.h"

namespace sluice::agent {
namespace {

TEST_CASE("the unixctl client runs commands on ovs-vswitchd", "[ovs]") {
  auto sandbox = sluice::testing::OvsSandbox::start({.namePrefix = "sl-ovsctl"});
  REQUIRE(sandbox.ok());
  const auto& dir = (*sandbox)->dir();
  UnixctlOvsControl control(dir);
  CHECK(vswitchdControlPath(dir) == (*sandbox)->vswitchdControlPath());

  auto version = control.run("version", {});
  REQUIRE(version.ok());
  CHECK(version->find("ovs-vswitchd") != std::string::npos);

  // The netdev datapath exists once a bridge does.
  REQUIRE((*sandbox)->addBridge("br-ctl").ok());
  CHECK(flushEgressIpConntrack(control, *parseIpv4("10.10.0.8")).ok());
  CHECK(flushPodIpConntrack(control, *parseIpv4("10.244.1.5")).ok());
  CHECK(disableConntrackTcpSequenceCheck(control).ok());

  auto unknown = control.run("no/such-command", {});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.find("no/such-command") != std::string::npos);
}

TEST_CASE("a missing ovs-vswitchd is an error that names the socket", "[unit]") {
  UnixctlOvsControl control("/nonexistent-sluice-run");
  auto reply = control.run("version", {});
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().message.find("/nonexistent-sluice-run/ovs-vswitchd.ctl") !=
        std::string::npos);
}

}  // namespace
}  // namespace sluice::agent
