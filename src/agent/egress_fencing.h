// EgressFencing: whether this node may hold egress IPs. It holds none while neither the leader of
// sluice-controller nor a majority of its peer witnesses acknowledges it in time (LivenessReporter
// and PeerProber fence it), none until one of them has once after a start (past one fencing
// timeout), and, back from a fence, none until its Egress cache is at least as new as a fresh read
// (an IP that moved away meanwhile must not be taken back). It feeds the Node list to the prober.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/liveness_reporter.h"
#include "agent/peer_prober.h"
#include "agent/reconcile_queue.h"
#include "agent/task_loop.h"
#include "kube/client.h"
#include "kube/informer.h"

namespace sluice::agent {

struct EgressFencingOptions {
  std::string nodeName;
  std::string controllerAddress;  // the replicas, comma-separated; empty: fallbackAddress alone
  std::string fallbackAddress;    // the controller Service from the environment; may be empty
  std::string controllerService;  // for the log line when there is no address at all
  std::chrono::milliseconds reportInterval{100};
  std::chrono::milliseconds fencingTimeout{300};
  std::uint16_t peerProbePort = kDefaultPeerProbePort;
  std::size_t peerWitnesses = kDefaultWitnesses;
};

// What the agent shows of its fencing (status query, metrics).
struct FencingStatus {
  bool fenced = true;
  std::string rule = "none";  // holdingRuleName
  std::string leader;         // the replica that last answered as the leader
  std::vector<std::string> controllerTargets;
  std::vector<std::string> witnesses;  // declared
  std::size_t witnessesReachable = 0;  // acknowledged a probe sent within fencingTimeout
  PeerProberStats probes;
  LivenessReporterStats reports;
};

class EgressFencing {
 public:
  struct Dependencies {
    TaskLoop& loop;
    kube::Client& client;
    const kube::Informer& egresses;
    std::function<void()> onChange;  // on the loop: whether it holds nothing may have changed
  };
  EgressFencing(Dependencies dependencies, EgressFencingOptions options);
  ~EgressFencing();
  EgressFencing(const EgressFencing&) = delete;
  EgressFencing& operator=(const EgressFencing&) = delete;

  // Before the Node informer starts: its Nodes (names and InternalIPs) become the peers.
  void watchNodes(kube::Informer& nodes);
  // Starts the peer probes, the liveness reports and the first fencing timeout.
  void start();
  void stop();
  // On the loop: whether this node must hold no egress IP now.
  bool holdsNothing();
  bool fenced() const { return fenced_.load(); }
  // One address sluicectl can ask: the leader if known, else the first replica.
  std::string controllerAddress() const;
  FencingStatus status() const;

 private:
  void startUnfencing();
  bool egressCacheCaughtUp();
  void reconcileNodes(const std::set<std::string>& names);

  Dependencies deps_;
  EgressFencingOptions options_;
  std::unique_ptr<PeerProber> prober_;
  std::unique_ptr<LivenessReporter> liveness_;
  // What the prober's thread tells of acks; set once liveness_ runs, which outlives the prober.
  std::atomic<LivenessReporter*> acksTo_{nullptr};
  std::atomic<bool> fenced_{false};
  std::atomic<bool> heard_{false};  // the node has been allowed to hold since the start
  bool unfencing_ = false;          // a fresh read of the Egresses is on its way (loop thread)
  std::map<std::string, std::string> barrier_;  // key -> resourceVersion the cache must reach
  std::thread unfenceReader_;
  // The Node list, on the loop.
  kube::Informer* nodes_ = nullptr;
  std::unique_ptr<ReconcileQueue> nodeQueue_;
  std::map<std::string, PeerEndpoint> peers_;
};

}  // namespace sluice::agent
