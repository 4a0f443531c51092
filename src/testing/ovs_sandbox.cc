// OvsSandbox: private ovsdb-server + ovs-vswitchd for tests (see ovs_sandbox.h).
#include "testing/ovs_sandbox.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "testing/subprocess.h"

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr auto kStartTimeout = std::chrono::seconds(20);
constexpr auto kStopGrace = std::chrono::seconds(5);
constexpr auto kPollInterval = std::chrono::milliseconds(5);
constexpr const char* kVswitchdPath = "/usr/lib/openvswitch-switch/ovs-vswitchd";
constexpr const char* kSchemaPath = "/usr/share/openvswitch/vswitch.ovsschema";

bool socketAccepts(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path) return false;
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return ok;
}

std::string tailOfFile(const std::string& path, size_t bytes = 2000) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

struct OvsSandbox::State {
  std::string dir;
  std::string netns;
  pid_t ovsdbPid = 0;
  pid_t vswitchdPid = 0;

  std::map<std::string, std::string> environment() const {
    return {{"OVS_RUNDIR", dir}, {"OVS_LOGDIR", dir}, {"OVS_DBDIR", dir}, {"OVS_SYSCONFDIR", dir}};
  }

  // Prefixes argv with `ip netns exec NS` when the sandbox has its own netns.
  std::vector<std::string> inNetns(std::vector<std::string> argv) const {
    if (netns.empty()) return argv;
    std::vector<std::string> result = {"ip", "netns", "exec", netns};
    result.insert(result.end(), argv.begin(), argv.end());
    return result;
  }

  Result<std::string> runChecked(
      const std::vector<std::string>& argv,
      std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
    auto output =
        runCommand(argv, CommandOptions{.environment = environment(), .timeout = timeout});
    if (!output) return output.error();
    if (output->exitCode != 0) {
      return makeError(describeCommand(argv) + " (sandbox " + dir + ") exited with " +
                       std::to_string(output->exitCode) + ": " + trimmed(output->err));
    }
    return std::move(output->out);
  }

  std::string vswitchdControl() const {
    return dir + "/ovs-vswitchd." + std::to_string(vswitchdPid) + ".ctl";
  }
  std::string ovsdbControl() const {
    return dir + "/ovsdb-server." + std::to_string(ovsdbPid) + ".ctl";
  }

  // Polls until `ready` holds or the daemon died or the deadline passed.
  Result<void> waitReady(const std::string& what, pid_t pid, const std::string& logPath,
                         const std::function<bool()>& ready) const {
    auto deadline = Clock::now() + kStartTimeout;
    while (!ready()) {
      if (!processRunning(pid)) {
        return makeError(what + " (sandbox " + dir + ") exited during start-up; log:\n" +
                         tailOfFile(logPath));
      }
      if (Clock::now() > deadline) {
        return makeError(what + " (sandbox " + dir + ") did not become ready within " +
                         std::to_string(kStartTimeout.count()) + " s; log:\n" +
                         tailOfFile(logPath));
      }
      std::this_thread::sleep_for(kPollInterval);
    }
    return {};
  }

  Result<void> startOvsdb() {
    auto created = runChecked({"ovsdb-tool", "create", dir + "/conf.db", kSchemaPath});
    if (!created) return created.error();
    if (auto spawned = spawnOvsdb(); !spawned) return spawned;
    auto init = runChecked({"ovs-vsctl", "--db=unix:" + dir + "/db.sock", "--no-wait", "init"});
    if (!init) return init.error();
    return {};
  }

  // Starts ovsdb-server on the existing database and waits until it accepts connections.
  Result<void> spawnOvsdb() {
    auto pid = spawnDaemon(
        inNetns({"ovsdb-server", dir + "/conf.db", "--remote=punix:" + dir + "/db.sock",
                 "--pidfile=" + dir + "/ovsdb-server.pid",
                 "--log-file=" + dir + "/ovsdb-server.log", "-vconsole:off"}),
        DaemonOptions{.environment = environment(), .outputPath = dir + "/ovsdb-server.out"});
    if (!pid) return pid.error();
    ovsdbPid = *pid;
    std::string socket = dir + "/db.sock";
    return waitReady("ovsdb-server", ovsdbPid, dir + "/ovsdb-server.log",
                     [&] { return socketAccepts(socket); });
  }

  // Internal ports of a netdev bridge are persistent tap devices that outlive ovs-vswitchd. A
  // restarted ovs-vswitchd reopens them, so only the final clean-up in the root namespace must
  // delete them (a netns takes them along when it is deleted).
  std::vector<std::string> internalDevices() const {
    std::vector<std::string> names;
    auto found = runCommand({"ovs-vsctl", "--no-wait", "--db=unix:" + dir + "/db.sock", "--bare",
                             "--columns=name", "find", "Interface", "type=internal"});
    if (!found || found->exitCode != 0) return names;
    std::istringstream lines(found->out);
    for (std::string name; std::getline(lines, name);) {
      if (!name.empty()) names.push_back(name);
    }
    if (!names.empty()) names.push_back("ovs-netdev");  // the datapath's own tap
    return names;
  }

  void deleteTaps(const std::vector<std::string>& names) const {
    for (const auto& name : names) {
      // Only a tun/tap device (it has tun_flags) can be a netdev-datapath leftover.
      if (!fs::exists("/sys/class/net/" + name + "/tun_flags")) continue;
      (void)runCommand({"ip", "link", "del", name});
    }
  }

  Result<void> startVswitchd() {
    auto pid = spawnDaemon(
        inNetns({kVswitchdPath, "unix:" + dir + "/db.sock",
                 "--pidfile=" + dir + "/ovs-vswitchd.pid",
                 "--log-file=" + dir + "/ovs-vswitchd.log", "-vconsole:off"}),
        DaemonOptions{.environment = environment(), .outputPath = dir + "/ovs-vswitchd.out"});
    if (!pid) return pid.error();
    vswitchdPid = *pid;
    std::string control = vswitchdControl();
    auto ready = waitReady("ovs-vswitchd", vswitchdPid, dir + "/ovs-vswitchd.log",
                           [&] { return socketAccepts(control); });
    if (!ready) return ready;
    // A fixed name for the control socket, so `ovs-appctl -t DIR/ovs-vswitchd.ctl` works too.
    std::string link = dir + "/ovs-vswitchd.ctl";
    unlink(link.c_str());
    if (symlink(control.c_str(), link.c_str()) != 0) {
      return makeError("symlink " + link + ": " + strerror(errno));
    }
    // Ready once every bridge in the database serves OpenFlow again (a killed predecessor
    // leaves its .mgmt files behind, but they refuse connections until they are recreated).
    for (const auto& bridge : bridgeNames()) {
      std::string socket = dir + "/" + bridge + ".mgmt";
      auto bridgeReady =
          waitReady("ovs-vswitchd bridge " + bridge, vswitchdPid, dir + "/ovs-vswitchd.log",
                    [&] { return socketAccepts(socket); });
      if (!bridgeReady) return bridgeReady;
    }
    return disableTcpSequenceCheck();
  }

  std::vector<std::string> bridgeNames() const {
    std::vector<std::string> names;
    auto listed =
        runCommand({"ovs-vsctl", "--no-wait", "--db=unix:" + dir + "/db.sock", "list-br"});
    if (!listed || listed->exitCode != 0) return names;
    std::istringstream lines(listed->out);
    for (std::string name; std::getline(lines, name);) {
      if (!name.empty()) names.push_back(name);
    }
    return names;
  }

  // Not stored in OVSDB, so it must follow every ovs-vswitchd start (docs/userspace-datapath.md).
  // The netdev datapath exists only while a bridge does (it is created with the first and destroyed
  // with the last), so without bridges there is nothing to configure yet.
  Result<void> disableTcpSequenceCheck() const {
    if (bridgeNames().empty()) return {};
    auto output = runChecked(
        inNetns({"ovs-appctl", "-t", vswitchdControl(), "dpctl/ct-disable-tcp-seq-chk"}));
    if (!output) return output.error();
    return {};
  }

  void stopAll() {
    // Read the database before stopping it: it names the tap devices left to delete.
    std::vector<std::string> taps;
    if (netns.empty() && ovsdbPid > 0) taps = internalDevices();
    stopProcess(vswitchdPid, kStopGrace);
    vswitchdPid = 0;
    stopProcess(ovsdbPid, kStopGrace);
    ovsdbPid = 0;
    if (!netns.empty()) {
      // Deleting the netns destroys the tap devices that live in it.
      (void)runCommand({"ip", "netns", "del", netns});
      netns.clear();
    } else {
      deleteTaps(taps);
    }
    if (!dir.empty()) {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
      dir.clear();
    }
  }
};

Result<std::unique_ptr<OvsSandbox>> OvsSandbox::start(const OvsSandboxOptions& options) {
  std::unique_ptr<OvsSandbox> sandbox(new OvsSandbox());
  sandbox->state_ = std::make_unique<State>();
  State& state = *sandbox->state_;
  std::string pattern = "/tmp/" + options.namePrefix + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    return makeError("OvsSandbox: mkdtemp " + pattern + ": " + strerror(errno) +
                     "; check that /tmp is writable and namePrefix has no '/'");
  }
  state.dir = buffer.data();
  if (options.ownNetns) {
    std::string name = options.namePrefix + "-" + state.dir.substr(state.dir.size() - 6);
    auto added = state.runChecked({"ip", "netns", "add", name});
    if (!added) return added.error();  // the destructor removes the directory
    state.netns = name;
    auto loopback = state.runChecked({"ip", "-n", name, "link", "set", "lo", "up"});
    if (!loopback) return loopback.error();
  }
  if (auto started = state.startOvsdb(); !started) return started.error();
  if (auto started = state.startVswitchd(); !started) return started.error();
  return sandbox;
}

OvsSandbox::~OvsSandbox() {
  if (state_) state_->stopAll();
}

const std::string& OvsSandbox::dir() const { return state_->dir; }
const std::string& OvsSandbox::netns() const { return state_->netns; }
std::string OvsSandbox::dbSocketPath() const { return state_->dir + "/db.sock"; }
std::string OvsSandbox::dbRemote() const { return "unix:" + dbSocketPath(); }
std::string OvsSandbox::bridgeTarget(const std::string& bridge) const {
  return "unix:" + state_->dir + "/" + bridge + ".mgmt";
}
std::string OvsSandbox::vswitchdControlPath() const { return state_->dir + "/ovs-vswitchd.ctl"; }
pid_t OvsSandbox::vswitchdPid() const { return state_->vswitchdPid; }
pid_t OvsSandbox::ovsdbPid() const { return state_->ovsdbPid; }

Result<std::string> OvsSandbox::run(const std::string& commandLine) const {
  return state_->runChecked(state_->inNetns({"/bin/sh", "-c", commandLine}));
}

Result<void> OvsSandbox::addBridge(const std::string& bridge) const {
  // --timeout: ovs-vsctl waits for ovs-vswitchd to apply the change, which never happens if the
  // bridge cannot be created.
  auto added = state_->runChecked(state_->inNetns(
      {"ovs-vsctl", "--timeout=20", "add-br", bridge, "--", "set", "Bridge", bridge,
       "datapath_type=netdev", "fail_mode=secure", "protocols=OpenFlow10,OpenFlow13,OpenFlow15"}));
  if (!added) return added.error();
  std::string socket = state_->dir + "/" + bridge + ".mgmt";
  auto ready =
      state_->waitReady("ovs-vswitchd bridge " + bridge, state_->vswitchdPid,
                        state_->dir + "/ovs-vswitchd.log", [&] { return socketAccepts(socket); });
  if (!ready && state_->netns.empty()) {
    return makeError(ready.error().message +
                     "\n(in the root namespace another netdev ovs-vswitchd may hold the tap device "
                     "ovs-netdev or one named " +
                     bridge + "; use OvsSandboxOptions::ownNetns)");
  }
  if (!ready) return ready;
  return state_->disableTcpSequenceCheck();
}

Result<void> OvsSandbox::disableTcpSequenceCheck() const {
  return state_->disableTcpSequenceCheck();
}

Result<void> OvsSandbox::killVswitchd() {
  pid_t pid = state_->vswitchdPid;
  if (pid <= 0) return makeError("OvsSandbox::killVswitchd: ovs-vswitchd is not running");
  stopProcess(pid, std::chrono::milliseconds(0));
  state_->vswitchdPid = 0;
  return {};
}

Result<void> OvsSandbox::restartOvsdbServer() {
  stopProcess(state_->ovsdbPid, kStopGrace);
  state_->ovsdbPid = 0;
  // The old socket file stays until the new server replaces it; it refuses connections meanwhile.
  return state_->spawnOvsdb();
}

Result<void> OvsSandbox::startVswitchd() {
  if (state_->vswitchdPid > 0 && processRunning(state_->vswitchdPid)) {
    return makeError("OvsSandbox::startVswitchd: ovs-vswitchd already runs as PID " +
                     std::to_string(state_->vswitchdPid) + "; call killVswitchd() first");
  }
  return state_->startVswitchd();
}

}  // namespace sluice::testing
