// Tests of the OVS test sandbox itself: it starts real daemons and leaves nothing behind.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <csignal>
#include <filesystem>
#include <stdexcept>

#include "testing/ovs_sandbox.h"
#include "testing/subprocess.h"

namespace {

using sluice::testing::OvsSandbox;
using sluice::testing::OvsSandboxOptions;

bool pidAlive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

bool netnsExists(const std::string& name) {
  return !name.empty() && std::filesystem::exists("/run/netns/" + name);
}

std::unique_ptr<OvsSandbox> startSandbox(const OvsSandboxOptions& options) {
  auto sandbox = OvsSandbox::start(options);
  if (!sandbox) FAIL(sandbox.error().message);
  return std::move(sandbox).value();
}

std::string mustRun(const OvsSandbox& sandbox, const std::string& command) {
  auto output = sandbox.run(command);
  if (!output) FAIL(output.error().message);
  return *output;
}

}  // namespace

TEST_CASE("sandbox start and stop leave no process, directory or netns behind", "[ovs]") {
  bool ownNetns = GENERATE(true, false);
  CAPTURE(ownNetns);
  std::string dir, netns;
  pid_t ovsdb = 0, vswitchd = 0;
  {
    auto sandbox = startSandbox({.namePrefix = "sl-sbx", .ownNetns = ownNetns});
    dir = sandbox->dir();
    netns = sandbox->netns();
    ovsdb = sandbox->ovsdbPid();
    vswitchd = sandbox->vswitchdPid();
    REQUIRE(std::filesystem::exists(sandbox->dbSocketPath()));
    REQUIRE(sandbox->dbRemote() == "unix:" + dir + "/db.sock");
    REQUIRE(pidAlive(ovsdb));
    REQUIRE(pidAlive(vswitchd));
    REQUIRE(netnsExists(netns) == ownNetns);
    REQUIRE(netns.empty() == !ownNetns);
    // Both daemons answer, through the sandbox's environment.
    REQUIRE(mustRun(*sandbox, "ovs-appctl version").find("ovs-vswitchd") != std::string::npos);
    REQUIRE(mustRun(*sandbox, "ovs-appctl -t " + sandbox->vswitchdControlPath() + " version")
                .find("ovs-vswitchd") != std::string::npos);
    REQUIRE(mustRun(*sandbox, "ovs-appctl -t ovsdb-server version").find("ovsdb-server") !=
            std::string::npos);
    REQUIRE_FALSE(mustRun(*sandbox, "ovs-vsctl get Open_vSwitch . _uuid").empty());
  }
  CHECK_FALSE(pidAlive(ovsdb));
  CHECK_FALSE(pidAlive(vswitchd));
  CHECK_FALSE(std::filesystem::exists(dir));
  if (ownNetns) CHECK_FALSE(netnsExists(netns));
}

TEST_CASE("sandbox runs commands inside its netns and reports failures with stderr", "[ovs]") {
  auto sandbox = startSandbox({.namePrefix = "sl-sbx", .ownNetns = true});
  // A fresh netns holds only lo.
  std::string links = mustRun(*sandbox, "ip -o link show");
  REQUIRE(links.find("lo") != std::string::npos);
  REQUIRE(links.find("eth0") == std::string::npos);
  auto failed = sandbox->run("ovs-vsctl br-exists no-such-bridge-xyz || (echo oops >&2; exit 3)");
  REQUIRE_FALSE(failed.ok());
  REQUIRE_THAT(failed.error().message, Catch::Contains("oops") && Catch::Contains("3"));
}

TEST_CASE("sandbox bridges get an OpenFlow socket and two sandboxes run side by side", "[ovs]") {
  auto first = startSandbox({.namePrefix = "sl-sbx", .ownNetns = true});
  auto second = startSandbox({.namePrefix = "sl-sbx", .ownNetns = true});
  REQUIRE(first->dir() != second->dir());
  REQUIRE(first->netns() != second->netns());
  // The same bridge name in both: their sockets and tap devices must not collide.
  REQUIRE(first->addBridge("br-int").ok());
  REQUIRE(second->addBridge("br-int").ok());
  REQUIRE(first->bridgeTarget("br-int") == "unix:" + first->dir() + "/br-int.mgmt");
  REQUIRE(first->bridgeTarget("br-int") != second->bridgeTarget("br-int"));

  mustRun(*first, "ovs-ofctl -O OpenFlow15 add-flow br-int 'table=0,priority=7,actions=drop'");
  // ovs-ofctl addressed through the target string works as well.
  std::string firstFlows =
      mustRun(*first, "ovs-ofctl -O OpenFlow15 dump-flows " + first->bridgeTarget("br-int"));
  std::string secondFlows = mustRun(*second, "ovs-ofctl -O OpenFlow15 dump-flows br-int");
  REQUIRE(firstFlows.find("priority=7") != std::string::npos);
  REQUIRE(secondFlows.find("priority=7") == std::string::npos);
  REQUIRE(mustRun(*first, "ovs-vsctl get Bridge br-int datapath_type fail_mode") ==
          "netdev\nsecure\n");
}

TEST_CASE("sandbox restarts ovs-vswitchd after a crash and keeps the database", "[ovs]") {
  std::string bridge = "br-int";
  std::string dir;
  {
    auto sandbox = startSandbox({.namePrefix = "sl-sbx", .ownNetns = true});
    dir = sandbox->dir();
    auto added = sandbox->addBridge(bridge);
    if (!added) FAIL(added.error().message);
    REQUIRE(mustRun(*sandbox, "ovs-appctl dpctl/ct-get-tcp-seq-chk").find("disabled") !=
            std::string::npos);
    pid_t old = sandbox->vswitchdPid();
    REQUIRE(sandbox->killVswitchd().ok());
    REQUIRE_FALSE(pidAlive(old));
    REQUIRE(sandbox->vswitchdPid() == 0);
    // docs/userspace-datapath.md: the netdev bridge's tap device outlives ovs-vswitchd.
    CHECK(mustRun(*sandbox, "ip -o link show").find(bridge + ":") != std::string::npos);
    auto restarted = sandbox->startVswitchd();
    if (!restarted) FAIL(restarted.error().message);
    REQUIRE(pidAlive(sandbox->vswitchdPid()));
    REQUIRE(sandbox->vswitchdPid() != old);
    // Database contents survived; the bridge is back and serves OpenFlow.
    REQUIRE(mustRun(*sandbox, "ovs-vsctl list-br") == bridge + "\n");
    mustRun(*sandbox, "ovs-ofctl -O OpenFlow15 add-flow " + bridge + " priority=9,actions=drop");
    REQUIRE(mustRun(*sandbox, "ovs-ofctl -O OpenFlow15 dump-flows " + bridge).find("priority=9") !=
            std::string::npos);
    REQUIRE(mustRun(*sandbox, "ovs-appctl dpctl/ct-get-tcp-seq-chk").find("disabled") !=
            std::string::npos);
    // The internal port works again: it has an ofport, not an error.
    REQUIRE(mustRun(*sandbox, "ovs-vsctl get Interface " + bridge + " ofport") == "65534\n");
    REQUIRE(mustRun(*sandbox, "ovs-vsctl get Interface " + bridge + " error") == "[]\n");
    // Starting twice is refused.
    REQUIRE_FALSE(sandbox->startVswitchd().ok());
  }
  CHECK_FALSE(std::filesystem::exists(dir));
}

TEST_CASE("sandbox disables TCP sequence checking once a bridge made elsewhere exists", "[ovs]") {
  auto sandbox = startSandbox({.namePrefix = "sl-sbx", .ownNetns = true});
  REQUIRE(sandbox->disableTcpSequenceCheck().ok());  // no datapath yet: nothing to do
  mustRun(*sandbox, "ovs-vsctl add-br br-x -- set Bridge br-x datapath_type=netdev");
  REQUIRE(mustRun(*sandbox, "ovs-appctl dpctl/ct-get-tcp-seq-chk").find("enabled") !=
          std::string::npos);
  REQUIRE(sandbox->disableTcpSequenceCheck().ok());
  REQUIRE(mustRun(*sandbox, "ovs-appctl dpctl/ct-get-tcp-seq-chk").find("disabled") !=
          std::string::npos);
}

TEST_CASE("sandbox cleans up when the test using it throws", "[ovs]") {
  std::string dir, netns;
  pid_t vswitchd = 0;
  try {
    auto sandbox = startSandbox({.namePrefix = "sl-sbx", .ownNetns = true});
    dir = sandbox->dir();
    netns = sandbox->netns();
    vswitchd = sandbox->vswitchdPid();
    throw std::runtime_error("simulated REQUIRE failure");
  } catch (const std::runtime_error&) {
  }
  REQUIRE_FALSE(dir.empty());
  CHECK_FALSE(pidAlive(vswitchd));
  CHECK_FALSE(std::filesystem::exists(dir));
  CHECK_FALSE(netnsExists(netns));
}

TEST_CASE("runCommand captures output, exit code and enforces its timeout", "[unit]") {
  using sluice::testing::runCommand;
  auto echoed = runCommand({"sh", "-c", "echo out; echo err >&2; exit 4"});
  REQUIRE(echoed.ok());
  REQUIRE(echoed->out == "out\n");
  REQUIRE(echoed->err == "err\n");
  REQUIRE(echoed->exitCode == 4);
  auto slow = runCommand({"sh", "-c", "sleep 5"},
                         {.environment = {}, .timeout = std::chrono::milliseconds(100)});
  REQUIRE_FALSE(slow.ok());
  REQUIRE_THAT(slow.error().message, Catch::Contains("timed out"));
  REQUIRE_FALSE(runCommand({"/no/such/program"}).ok());
}
