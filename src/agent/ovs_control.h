// OvsControl: ovs-vswitchd's control commands (what `ovs-appctl` sends), as the agent needs them.
// The real one talks to the daemon's unixctl socket through libopenvswitch, in-process; tests use
// a fake (tests/agent/fakes.h). ConntrackFlushes batches flushes so they run after the work that
// asked for them (never inside a CNI ADD).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/ipv4.h"
#include "common/result.h"

namespace sluice::agent {

class OvsControl {
 public:
  virtual ~OvsControl() = default;
  // Runs one unixctl command (e.g. "dpctl/flush-conntrack" with its arguments); its reply.
  virtual Result<std::string> run(const std::string& command,
                                  const std::vector<std::string>& arguments) = 0;
};

// This node's ovs-vswitchd control socket: OVS_RUNDIR/ovs-vswitchd.ctl, or the one with its PID.
std::string vswitchdControlPath(const std::string& ovsRunDir);

// One unixctl connection per command, to the socket vswitchdControlPath() finds at that moment
// (ovs-vswitchd may have restarted with a new PID since the last one). Blocking; call it on the
// loop thread (libopenvswitch is not thread-safe).
class UnixctlOvsControl : public OvsControl {
 public:
  explicit UnixctlOvsControl(std::string ovsRunDir) : ovsRunDir_(std::move(ovsRunDir)) {}
  Result<std::string> run(const std::string& command,
                          const std::vector<std::string>& arguments) override;

 private:
  std::string ovsRunDir_;
};

// The SNAT zone's entries whose reply goes to `egressIp`: a released egress IP's connections.
Result<void> flushEgressIpConntrack(OvsControl& control, Ipv4 egressIp);
// The SNAT zone's entries of connections from `podIp`: they are NATed afresh.
Result<void> flushPodIpConntrack(OvsControl& control, Ipv4 podIp);
// dpctl/ct-disable-tcp-seq-chk (docs: the userspace datapath's sequence checks break failover).
Result<void> disableConntrackTcpSequenceCheck(OvsControl& control);

// Conntrack flushes asked for during a reconcile, run together later (from a loop post), so the
// reconcile, and a CNI ADD that waits for it, does not wait for them. A flush asked for twice
// before it runs runs once.
class ConntrackFlushes {
 public:
  void flushEgressIp(Ipv4 egressIp) { egressIps_.insert(egressIp); }
  void flushPodIp(Ipv4 podIp) { podIps_.insert(podIp); }
  bool empty() const { return egressIps_.empty() && podIps_.empty(); }
  const std::set<Ipv4>& egressIps() const { return egressIps_; }
  const std::set<Ipv4>& podIps() const { return podIps_; }
  // Runs every queued flush through `control` (failures are logged) and empties the batch.
  void run(OvsControl& control);

 private:
  std::set<Ipv4> egressIps_;
  std::set<Ipv4> podIps_;
};

}  // namespace sluice::agent
