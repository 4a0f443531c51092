// AgentEvents: records Kubernetes Events from the agent off its OVS thread. record() only queues;
// one background thread makes the API calls, so a slow API server never delays a flow install.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "kube/event_recorder.h"

namespace sluice::agent {

class AgentEvents {
 public:
  AgentEvents(kube::Client& client, kube::EventRecorderOptions options);
  ~AgentEvents();  // drops what is still queued, waits for the call in flight
  AgentEvents(const AgentEvents&) = delete;
  AgentEvents& operator=(const AgentEvents&) = delete;

  void record(nlohmann::json involvedObject, kube::EventType type, std::string reason,
              std::string message);

 private:
  struct Pending {
    nlohmann::json object;
    kube::EventType type;
    std::string reason;
    std::string message;
  };
  void run();

  kube::EventRecorder recorder_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace sluice::agent
