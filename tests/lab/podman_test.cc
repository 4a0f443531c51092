// podman as a real CNI client in the lab: a container started by podman on a lab node gets its
// network from sluice-cni through that node's agent, reaches a pod on another node, and podman's
// exit and rm give the port and IP back (DEL).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <regex>

#include "lab_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

std::string podmanEnvTool() { return std::string(SLUICE_SOURCE_ROOT) + "/tools/lab/podman-env"; }

// A throwaway podman (own storage, own CNI config dirs, busybox image) whose network "sluice" is
// sluice-cni pointed at one lab node's agent. Removed in the destructor, even when the test fails;
// declare it after the Lab so that it goes first, while the node's agent can still answer DEL.
class PodmanEnv {
 public:
  PodmanEnv(const Lab& lab, const std::string& node) : netns_(lab.name() + "-" + node) {
    char pattern[] = "/tmp/sluice-podman-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return;
    dir_ = pattern;
    const auto result =
        shell("timeout 120 " + podmanEnvTool() + " setup " + quote(dir_) + " --cni-bin " +
              quote(std::string(SLUICE_BUILD_ROOT) + "/src/cni/sluice-cni") + " --agent-socket " +
              quote(lab.stateDir() + "/nodes/" + node + "/cni.sock"));
    ready_ = result.ok();
    setupOutput_ = result.output;
  }
  ~PodmanEnv() {
    if (!dir_.empty())
      shell("timeout 120 " + podmanEnvTool() + " teardown " + quote(dir_) + " --netns " +
            quote(netns_));
  }
  PodmanEnv(const PodmanEnv&) = delete;
  PodmanEnv& operator=(const PodmanEnv&) = delete;

  bool ready() const { return ready_; }
  const std::string& setupOutput() const { return setupOutput_; }
  const std::string& dir() const { return dir_; }

  // `podman ARGS` in the node's network namespace, bounded in time.
  CommandResult podman(const std::string& arguments) const {
    return shell("timeout 120 " + podmanEnvTool() + " podman " + quote(dir_) + " --netns " +
                 quote(netns_) + " -- " + arguments);
  }

 private:
  std::string netns_;
  std::string dir_;
  bool ready_ = false;
  std::string setupOutput_;
};

// Pod ports are "sl" + 12 hex digits (hostInterfaceName).
int podPorts(const Lab& lab, const std::string& node) {
  const auto result =
      lab.nodeExec(node, "ovs-vsctl list-ports br-int | grep -c '^sl[0-9a-f]\\{12\\}$' || true");
  return result.output.empty() ? -1 : std::atoi(result.output.c_str());
}

std::string ipam(const Lab& lab, const std::string& node) {
  return lab.nodeExec(node, "cat " + lab.stateDir() + "/nodes/" + node + "/state/ipam.json").output;
}

// Whether the node's IPAM has an allocation for `ip` ("next" names an IP too, so match the field).
bool holdsIp(const std::string& ipamJson, const std::string& ip) {
  return std::regex_search(
      ipamJson,
      std::regex("\"ip\":\\s*\"" + std::regex_replace(ip, std::regex("\\."), "\\.") + "\""));
}

std::string firstMatch(const std::string& text, const std::string& pattern) {
  std::smatch match;
  return std::regex_search(text, match, std::regex(pattern)) ? std::string(match[1])
                                                             : std::string();
}

const std::string kImage = "localhost/sluice-busybox";

TEST_CASE(
    "podman runs a container on a lab node through sluice-cni; it reaches another node and the "
    "outside",
    "[lab]") {
  Lab lab({.nodes = 2});
  INFO(lab.upOutput());
  REQUIRE(lab.up());
  const auto targetIp = lab.addPod("target", "node02");
  INFO(lab.lastOutput());
  REQUIRE_FALSE(targetIp.empty());
  PodmanEnv podman(lab, "node01");
  INFO(podman.setupOutput());
  REQUIRE(podman.ready());

  // The container prints its address, pings the pod on node02 (the first packet may wait on the
  // tunnel's ARP, so it retries within 10 s) and asks the external host which source it saw.
  const std::string pingTarget = "ping -c 1 -W 1 " + targetIp + " >/dev/null";
  const std::string script = "ip -4 -o addr show eth0; i=0; until " + pingTarget +
                             "; do i=$((i+1)); [ $i -lt 10 ] || exit 3; done; echo reached-target; "
                             "echo ext-saw $(nc -w 3 10.10.3.1 8080 </dev/null | head -1)";
  const auto run = podman.podman("run --rm --network sluice --name pm-once " + kImage + " sh -c " +
                                 quote(script));
  INFO(run.output);
  REQUIRE(run.ok());
  const auto containerIp = firstMatch(run.output, "inet (10\\.244\\.1\\.\\d+)/");
  CHECK_FALSE(containerIp.empty());
  CHECK_THAT(run.output, Catch::Contains("reached-target"));
  // Leaving the cluster is SNATed to the node's IP.
  CHECK_THAT(run.output, Catch::Contains("ext-saw 10.10.2.1\n"));

  // --rm: podman's cleanup ran DEL, so the port and the IP are gone.
  CHECK(waitFor(10s, [&] { return podPorts(lab, "node01") == 0; }));
  CHECK_FALSE(holdsIp(ipam(lab, "node01"), containerIp));
}

TEST_CASE("podman rm of a running container runs DEL: its port and IP are released", "[lab]") {
  Lab lab({.nodes = 2});
  INFO(lab.upOutput());
  REQUIRE(lab.up());
  const auto targetIp = lab.addPod("target", "node02");
  INFO(lab.lastOutput());
  REQUIRE_FALSE(targetIp.empty());
  PodmanEnv podman(lab, "node01");
  INFO(podman.setupOutput());
  REQUIRE(podman.ready());

  const auto started =
      podman.podman("run -d --network sluice --name pm-keeper " + kImage + " sleep 300");
  INFO(started.output);
  REQUIRE(started.ok());
  const auto address = podman.podman("exec pm-keeper ip -4 -o addr show eth0");
  INFO(address.output);
  const auto containerIp = firstMatch(address.output, "inet (10\\.244\\.1\\.\\d+)/");
  REQUIRE_FALSE(containerIp.empty());
  CHECK(podPorts(lab, "node01") == 1);
  CHECK(holdsIp(ipam(lab, "node01"), containerIp));
  // The other direction: the pod on node02 reaches the container, over the tunnel.
  CHECK(waitFor(
      10s, [&] { return lab.ping("target", containerIp); }, 50ms));

  const auto removed = podman.podman("rm --force --time 0 pm-keeper");
  INFO(removed.output);
  REQUIRE(removed.ok());
  CHECK(waitFor(10s, [&] { return podPorts(lab, "node01") == 0; }));
  CHECK(waitFor(10s, [&] { return !holdsIp(ipam(lab, "node01"), containerIp); }));
  CHECK_FALSE(lab.ping("target", containerIp));
}

}  // namespace
}  // namespace sluice::testing
