// Event creation and aggregation.
#include "kube/event_recorder.h"

#include <cstdio>

namespace sluice::kube {

using nlohmann::json;

namespace {
constexpr size_t kMaxRemembered = 4096;
}  // namespace

json makeEvent(const json& involvedObject, EventType type, const std::string& reason,
               const std::string& message, const EventRecorderOptions& options,
               std::chrono::system_clock::time_point now) {
  std::string objectNamespace = namespaceOf(involvedObject);
  std::string eventNamespace =
      objectNamespace.empty() ? options.clusterScopedNamespace : objectNamespace;
  json reference = {{"kind", involvedObject.value("kind", "")},
                    {"apiVersion", involvedObject.value("apiVersion", "")},
                    {"name", nameOf(involvedObject)}};
  if (!objectNamespace.empty()) reference["namespace"] = objectNamespace;
  if (!uidOf(involvedObject).empty()) reference["uid"] = uidOf(involvedObject);
  if (!resourceVersionOf(involvedObject).empty())
    reference["resourceVersion"] = resourceVersionOf(involvedObject);
  // Unique and sortable like client-go's names: object name plus the time in hex nanoseconds.
  char suffix[32];
  std::snprintf(
      suffix, sizeof suffix, ".%llx",
      static_cast<unsigned long long>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()));
  std::string timestamp = formatTime(now);
  json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", nameOf(involvedObject) + suffix}, {"namespace", eventNamespace}}},
      {"involvedObject", reference},
      {"reason", reason},
      {"message", message},
      {"type", type == EventType::kWarning ? "Warning" : "Normal"},
      {"count", 1},
      {"firstTimestamp", timestamp},
      {"lastTimestamp", timestamp},
      {"eventTime", nullptr},
      {"source", {{"component", options.component}}},
      {"reportingComponent", options.component},
      {"reportingInstance", options.host},
  };
  if (!options.host.empty()) event["source"]["host"] = options.host;
  return event;
}

EventRecorder::EventRecorder(Client& client, EventRecorderOptions options)
    : client_(client), options_(std::move(options)) {}

Result<json> EventRecorder::record(const json& involvedObject, EventType type,
                                   const std::string& reason, const std::string& message) {
  auto now = std::chrono::system_clock::now();
  std::string identity =
      involvedObject.value("kind", "") + "/" + keyOf(involvedObject) + "/" + uidOf(involvedObject);
  auto seenKey = std::make_tuple(identity, std::string(type == EventType::kWarning ? "W" : "N"),
                                 reason, message);
  std::unique_lock lock(mutex_);
  auto found = seen_.find(seenKey);
  if (found != seen_.end()) {
    Seen seen = found->second;
    lock.unlock();
    json patch = {{"count", seen.count + 1}, {"lastTimestamp", formatTime(now)}};
    auto patched = client_.patchMerge(resources::kEvents, seen.ns, seen.name, patch);
    if (patched) {
      std::lock_guard relock(mutex_);
      seen_[seenKey].count = seen.count + 1;
      return *patched;
    }
    if (!patched.notFound()) return patched.error();
    // The event expired (the API server's TTL); start a new one.
    lock.lock();
    seen_.erase(seenKey);
  }
  lock.unlock();
  json event = makeEvent(involvedObject, type, reason, message, options_, now);
  std::string ns = namespaceOf(event);
  auto created = client_.create(resources::kEvents, ns, event);
  if (!created) return created.error();
  std::lock_guard relock(mutex_);
  // Aggregation is best effort: forget everything rather than grow without bound.
  if (seen_.size() >= kMaxRemembered) seen_.clear();
  seen_[seenKey] = Seen{ns, nameOf(*created), 1};
  return *created;
}

}  // namespace sluice::kube
