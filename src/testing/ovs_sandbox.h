// OvsSandbox: a private ovsdb-server + ovs-vswitchd (netdev datapath) for tests, in a temporary
// directory and optionally in its own network namespace. It stops only the PIDs it started and
// removes everything it created, even when the test that owns it fails.
#pragma once

#include <sys/types.h>
#include <memory>
#include <string>

#include "common/result.h"

namespace sluice::testing {

struct OvsSandboxOptions {
  // Prefix for the temp dir, the netns and anything else with a name; a unique suffix is added.
  std::string namePrefix = "sl-test";
  // Create a fresh network namespace and run both daemons in it. Keep this on: the netdev
  // datapath owns a host-wide tap device "ovs-netdev" (plus one tap per bridge and internal
  // port), so in the root namespace only one sandbox (or other netdev ovs-vswitchd) can have
  // bridges at a time, and bridge names must be unique host-wide.
  bool ownNetns = true;
};

class OvsSandbox {
 public:
  // Starts ovsdb-server (fresh database) and ovs-vswitchd; returns once both answer.
  static Result<std::unique_ptr<OvsSandbox>> start(const OvsSandboxOptions& options = {});
  ~OvsSandbox();  // stops both daemons by PID, deletes the netns and the directory
  OvsSandbox(const OvsSandbox&) = delete;
  OvsSandbox& operator=(const OvsSandbox&) = delete;

  const std::string& dir() const;    // the run/log/db directory
  const std::string& netns() const;  // empty unless ownNetns
  std::string dbSocketPath() const;  // DIR/db.sock
  std::string dbRemote() const;      // "unix:DIR/db.sock"
  // The OpenFlow management socket of a bridge: "unix:DIR/BRIDGE.mgmt".
  std::string bridgeTarget(const std::string& bridge) const;

  // Runs an OVS tool (ovs-vsctl, ovs-ofctl, ovs-appctl, ...) against this sandbox: the right
  // OVS_RUNDIR/--db, inside the netns if any. Returns stdout, or an error with stderr and the code.
  Result<std::string> run(const std::string& commandLine) const;
  // Adds a netdev bridge with fail_mode=secure and OpenFlow15 through ovs-vsctl (test set-up).
  Result<void> addBridge(const std::string& bridge) const;

  // `ovs-appctl dpctl/ct-disable-tcp-seq-chk` (docs/userspace-datapath.md: existing TCP connections
  // survive an egress failover only with it). The netdev datapath, which holds the setting, is
  // created with the first bridge and destroyed with the last: addBridge() and startVswitchd() call
  // this, but a test that creates the first bridge in another way (the OVSDB client, the agent)
  // must call it after that. A no-op while the database has no bridge.
  Result<void> disableTcpSequenceCheck() const;

  // Crash and restart ovs-vswitchd alone (SIGKILL by PID); the database keeps its contents.
  Result<void> killVswitchd();
  Result<void> startVswitchd();
  // Stops ovsdb-server (SIGTERM by PID) and starts it again on the same database file, as after
  // an upgrade; clients see their connection drop. ovs-vswitchd reconnects by itself.
  Result<void> restartOvsdbServer();
  pid_t vswitchdPid() const;
  // DIR/ovs-vswitchd.ctl, a symlink to the running daemon's control socket, for
  // `ovs-appctl -t PATH ...`. Inside run(), plain `ovs-appctl CMD` reaches ovs-vswitchd too.
  std::string vswitchdControlPath() const;
  pid_t ovsdbPid() const;

 private:
  OvsSandbox() = default;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sluice::testing
