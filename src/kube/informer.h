// A list+watch cache of one resource (client-go's shared informer, simplified): a local store
// keyed by namespace/name and add/update/delete handlers called in event order.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/backoff.h"
#include "kube/client.h"
#include "kube/resource.h"
#include "kube/transport.h"

namespace sluice::kube {

// Objects in the store are immutable and shared with handlers, so keeping one is cheap.
using ObjectPtr = std::shared_ptr<const nlohmann::json>;

struct EventHandlers {
  std::function<void(const ObjectPtr& object)> onAdd{};
  std::function<void(const ObjectPtr& oldObject, const ObjectPtr& newObject)> onUpdate{};
  // For deletes seen only on relist, the object is the last state the informer knew.
  std::function<void(const ObjectPtr& object)> onDelete{};
};

struct InformerOptions {
  ResourceRef resource{};
  std::string ns{};             // empty: all namespaces (or a cluster-scoped resource)
  std::string labelSelector{};  // query form
  std::string fieldSelector{};  // e.g. "spec.nodeName=node-1"
  BackoffOptions backoff{.initial = std::chrono::milliseconds(100),
                         .max = std::chrono::milliseconds(10'000),
                         .factor = 2.0,
                         .jitter = 0.2};
  // The server ends each watch after this long; the informer then re-watches from its last
  // resourceVersion (client-go uses 5-10 minutes).
  std::chrono::seconds watchTimeout{300};
  // List page size; 0 lists in one response. Like client-go's first list with
  // resourceVersion=0 (served whole from the watch cache), the default is one response: paging
  // costs a round trip and a server-side scan per page.
  int64_t pageSize = 0;
};

struct InformerStats {
  uint64_t lists = 0;
  uint64_t watches = 0;
  uint64_t relistsAfterGone = 0;
  uint64_t events = 0;
};

// Threading: start() spawns one thread per informer. It lists, watches, updates the store and
// calls the handlers, so handlers run serially and in event order; they must be quick (enqueue a
// key into a WorkQueue) and must not call stop(). get()/list() are thread-safe.
class Informer {
 public:
  Informer(Client& client, InformerOptions options);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Register before start().
  void addHandlers(EventHandlers handlers);
  void start();
  // Cancels the watch and joins the thread. Idempotent.
  void stop();

  // True once the first list has been stored and its add handlers have run.
  bool hasSynced() const { return synced_.load(); }
  bool waitForSync(std::chrono::milliseconds timeout) const;

  ObjectPtr get(const std::string& key) const;
  std::vector<ObjectPtr> list() const;
  std::vector<std::string> keys() const;
  size_t size() const;
  std::string lastResourceVersion() const;
  InformerStats stats() const;

 private:
  void run();
  // Returns false when the list failed (the caller backs off).
  bool listAndReplace();
  void applyEvent(WatchEvent&& event);
  void waitInterruptible(std::chrono::milliseconds delay);

  void notifyAdd(const ObjectPtr& object);
  void notifyUpdate(const ObjectPtr& oldObject, const ObjectPtr& newObject);
  void notifyDelete(const ObjectPtr& object);

  Client& client_;
  InformerOptions options_;
  std::vector<EventHandlers> handlers_;

  mutable std::mutex storeMutex_;
  std::map<std::string, ObjectPtr> store_;
  std::string resourceVersion_;
  InformerStats stats_;

  std::atomic<bool> synced_{false};
  mutable std::mutex syncMutex_;
  mutable std::condition_variable syncCv_;

  std::atomic<bool> stopping_{false};
  std::mutex stopMutex_;
  std::condition_variable stopCv_;
  StreamCanceller canceller_;
  std::thread thread_;
};

}  // namespace sluice::kube
