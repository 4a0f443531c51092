// EgressFencing: whether this node may hold egress IPs. It holds none while the controller cannot
// hear it (LivenessReporter fences it), none until the controller has heard it once after a start
// (past one fencing timeout), and, back from a fence, none until its Egress cache is at least as
// new as a fresh read (an IP that moved away meanwhile must not be taken back).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "agent/liveness_reporter.h"
#include "agent/task_loop.h"
#include "kube/client.h"
#include "kube/informer.h"

namespace sluice::agent {

struct EgressFencingOptions {
  std::string nodeName;
  std::string controllerAddress;  // empty: never heard, so never an egress node
  std::string controllerService;  // for the log line when the address is empty
  std::chrono::milliseconds reportInterval{100};
  std::chrono::milliseconds fencingTimeout{300};
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

  // Starts the liveness reports and the first fencing timeout.
  void start();
  void stop();
  // On the loop: whether this node must hold no egress IP now.
  bool holdsNothing();
  bool fenced() const { return fenced_.load(); }
  const std::string& controllerAddress() const { return options_.controllerAddress; }

 private:
  void startUnfencing();
  bool egressCacheCaughtUp();

  Dependencies deps_;
  EgressFencingOptions options_;
  std::unique_ptr<LivenessReporter> liveness_;
  std::atomic<bool> fenced_{false};
  std::atomic<bool> heard_{false};  // the controller has answered a report since the start
  bool unfencing_ = false;          // a fresh read of the Egresses is on its way (loop thread)
  std::map<std::string, std::string> barrier_;  // key -> resourceVersion the cache must reach
  std::thread unfenceReader_;
};

}  // namespace sluice::agent
