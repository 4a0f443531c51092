// Records core/v1 Events about objects, aggregating repeats into a count like kubectl expects.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kube/client.h"

namespace sluice::kube {

enum class EventType { kNormal, kWarning };

struct EventRecorderOptions {
  std::string component{};  // source.component and reportingController, e.g. "sluice-controller"
  std::string host{};       // source.host, e.g. the node name
  // Cluster-scoped objects (Nodes, Egresses) get their Events in this namespace, as client-go does.
  std::string clusterScopedNamespace = "default";
};

// Builds the Event object (pure, for tests). `involvedObject` is the full object it is about.
nlohmann::json makeEvent(const nlohmann::json& involvedObject, EventType type,
                         const std::string& reason, const std::string& message,
                         const EventRecorderOptions& options,
                         std::chrono::system_clock::time_point now);

// Thread-safe. record() makes one API call: a POST for a new event, a merge patch of
// count/lastTimestamp for a repeat of the same (object, type, reason, message).
class EventRecorder {
 public:
  EventRecorder(Client& client, EventRecorderOptions options);
  Result<nlohmann::json> record(const nlohmann::json& involvedObject, EventType type,
                                const std::string& reason, const std::string& message);

 private:
  struct Seen {
    std::string ns;
    std::string name;
    int64_t count = 0;
  };
  Client& client_;
  EventRecorderOptions options_;
  std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, std::string, std::string>, Seen> seen_;
};

}  // namespace sluice::kube
