// OvsSandbox: a private ovsdb-server + ovs-vswitchd (netdev datapath) for tests, in a temporary
// directory and optionally in its own network namespace. It stops only the PIDs it started and
// removes everything it created, even when the test that owns it fails.
#pragma once

#include <memory>
#include <string>
#include <sys/types.h>

#include "common/result.h"

namespace sluice::testing {

struct OvsSandboxOptions {
  // Prefix for the temp dir, the netns and anything else with a name; a unique suffix is added.
  std::string namePrefix = "sl-test";
  // Create a fresh network namespace and run both daemons in it.
  bool ownNetns = false;
};

class OvsSandbox {
 public:
  // Starts ovsdb-server (fresh database) and ovs-vswitchd; returns once both answer.
  static Result<std::unique_ptr<OvsSandbox>> start(const OvsSandboxOptions& options = {});
  ~OvsSandbox();  // stops both daemons by PID, deletes the netns and the directory
  OvsSandbox(const OvsSandbox&) = delete;
  OvsSandbox& operator=(const OvsSandbox&) = delete;

  const std::string& dir() const;         // the run/log/db directory
  const std::string& netns() const;       // empty unless ownNetns
  std::string dbSocketPath() const;       // DIR/db.sock
  std::string dbRemote() const;           // "unix:DIR/db.sock"
  // The OpenFlow management socket of a bridge: "unix:DIR/BRIDGE.mgmt".
  std::string bridgeTarget(const std::string& bridge) const;

  // Runs an OVS tool (ovs-vsctl, ovs-ofctl, ovs-appctl, ...) against this sandbox: the right
  // OVS_RUNDIR/--db, inside the netns if any. Returns stdout, or an error with stderr and the code.
  Result<std::string> run(const std::string& commandLine) const;
  // Adds a netdev bridge with fail_mode=secure and OpenFlow15 through ovs-vsctl (test set-up).
  Result<void> addBridge(const std::string& bridge) const;

  // Crash and restart ovs-vswitchd alone (SIGKILL by PID); the database keeps its contents.
  Result<void> killVswitchd();
  Result<void> startVswitchd();
  pid_t vswitchdPid() const;
  pid_t ovsdbPid() const;

 private:
  OvsSandbox() = default;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sluice::testing
