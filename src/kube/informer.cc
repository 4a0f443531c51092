// Informer: list, then watch from the list's resourceVersion; relist on 410 Gone; back off on
// errors.
#include "kube/informer.h"

#include "common/log.h"

namespace sluice::kube {

using nlohmann::json;

Informer::Informer(Client& client, InformerOptions options)
    : client_(client), options_(std::move(options)) {}

Informer::~Informer() { stop(); }

void Informer::addHandlers(EventHandlers handlers) { handlers_.push_back(std::move(handlers)); }

void Informer::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void Informer::stop() {
  {
    std::lock_guard lock(stopMutex_);
    stopping_ = true;
  }
  stopCv_.notify_all();
  canceller_.cancel();
  if (thread_.joinable()) thread_.join();
}

bool Informer::waitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(syncMutex_);
  return syncCv_.wait_for(lock, timeout, [this] { return synced_.load(); });
}

ObjectPtr Informer::get(const std::string& key) const {
  std::lock_guard lock(storeMutex_);
  auto found = store_.find(key);
  return found == store_.end() ? nullptr : found->second;
}

std::vector<ObjectPtr> Informer::list() const {
  std::lock_guard lock(storeMutex_);
  std::vector<ObjectPtr> objects;
  objects.reserve(store_.size());
  for (const auto& [key, object] : store_) objects.push_back(object);
  return objects;
}

std::vector<std::string> Informer::keys() const {
  std::lock_guard lock(storeMutex_);
  std::vector<std::string> keys;
  keys.reserve(store_.size());
  for (const auto& [key, object] : store_) keys.push_back(key);
  return keys;
}

size_t Informer::size() const {
  std::lock_guard lock(storeMutex_);
  return store_.size();
}

std::string Informer::lastResourceVersion() const {
  std::lock_guard lock(storeMutex_);
  return resourceVersion_;
}

InformerStats Informer::stats() const {
  std::lock_guard lock(storeMutex_);
  return stats_;
}

void Informer::notifyAdd(const ObjectPtr& object) {
  for (const auto& handlers : handlers_) {
    if (handlers.onAdd) handlers.onAdd(object);
  }
}

void Informer::notifyUpdate(const ObjectPtr& oldObject, const ObjectPtr& newObject) {
  for (const auto& handlers : handlers_) {
    if (handlers.onUpdate) handlers.onUpdate(oldObject, newObject);
  }
}

void Informer::notifyDelete(const ObjectPtr& object) {
  for (const auto& handlers : handlers_) {
    if (handlers.onDelete) handlers.onDelete(object);
  }
}

void Informer::waitInterruptible(std::chrono::milliseconds delay) {
  std::unique_lock lock(stopMutex_);
  stopCv_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

bool Informer::listAndReplace() {
  ListOptions listOptions;
  listOptions.labelSelector = options_.labelSelector;
  listOptions.fieldSelector = options_.fieldSelector;
  listOptions.limit = options_.pageSize;
  std::map<std::string, ObjectPtr> fresh;
  std::string listVersion;
  for (bool first = true;; first = false) {
    auto page = client_.list(options_.resource, options_.ns, listOptions);
    if (!page) {
      SLUICE_LOG(kWarning, "informer")
          << options_.resource.resource << ": " << page.error().message;
      return false;
    }
    json& metadata = (*page)["metadata"];
    if (first) listVersion = metadata.value("resourceVersion", "");
    if (auto items = page->find("items"); items != page->end() && items->is_array()) {
      for (auto& item : *items) {
        // List items carry no kind/apiVersion in Kubernetes; watch events do. Fill them in so
        // every cached object is self-describing (Events' involvedObject needs them).
        if (item.is_object() && !item.contains("kind")) item["kind"] = options_.resource.kind;
        if (item.is_object() && !item.contains("apiVersion"))
          item["apiVersion"] = options_.resource.apiVersion();
        std::string key = keyOf(item);
        fresh[key] = std::make_shared<const json>(std::move(item));
      }
    }
    std::string token = metadata.is_object() ? metadata.value("continue", "") : "";
    if (token.empty()) break;
    listOptions.continueToken = token;
  }

  // Diff against the store so handlers see what changed while the informer was not watching.
  std::vector<ObjectPtr> added, deleted;
  std::vector<std::pair<ObjectPtr, ObjectPtr>> updated;
  {
    std::lock_guard lock(storeMutex_);
    for (const auto& [key, object] : fresh) {
      auto old = store_.find(key);
      if (old == store_.end()) {
        added.push_back(object);
      } else if (resourceVersionOf(*old->second) != resourceVersionOf(*object)) {
        updated.emplace_back(old->second, object);
      }
    }
    for (const auto& [key, object] : store_) {
      if (fresh.count(key) == 0) deleted.push_back(object);
    }
    store_ = std::move(fresh);
    resourceVersion_ = listVersion;
    ++stats_.lists;
  }
  for (const auto& object : deleted) notifyDelete(object);
  for (const auto& object : added) notifyAdd(object);
  for (const auto& [oldObject, newObject] : updated) notifyUpdate(oldObject, newObject);
  if (!synced_.exchange(true)) {
    std::lock_guard lock(syncMutex_);
    syncCv_.notify_all();
  }
  return true;
}

void Informer::applyEvent(WatchEvent&& event) {
  std::string version = resourceVersionOf(event.object);
  if (event.type == WatchEventType::kBookmark) {
    std::lock_guard lock(storeMutex_);
    if (!version.empty()) resourceVersion_ = version;
    return;
  }
  auto object = std::make_shared<const json>(std::move(event.object));
  std::string key = keyOf(*object);
  ObjectPtr old;
  {
    std::lock_guard lock(storeMutex_);
    ++stats_.events;
    if (!version.empty()) resourceVersion_ = version;
    auto found = store_.find(key);
    if (found != store_.end()) old = found->second;
    if (event.type == WatchEventType::kDeleted) {
      store_.erase(key);
    } else {
      store_[key] = object;
    }
  }
  if (event.type == WatchEventType::kDeleted) {
    notifyDelete(object);
  } else if (old) {
    notifyUpdate(old, object);
  } else {
    notifyAdd(object);
  }
}

void Informer::run() {
  ExponentialBackoff backoff(options_.backoff);
  bool needList = true;
  const std::string& name = options_.resource.resource;
  while (!stopping_) {
    if (needList) {
      if (!listAndReplace()) {
        waitInterruptible(backoff.next());
        continue;
      }
      backoff.reset();  // the server answers again: the next failure starts from a short delay
      needList = false;
    }
    ListOptions watchOptions;
    watchOptions.labelSelector = options_.labelSelector;
    watchOptions.fieldSelector = options_.fieldSelector;
    watchOptions.resourceVersion = lastResourceVersion();
    watchOptions.allowWatchBookmarks = true;
    watchOptions.timeoutSeconds = options_.watchTimeout.count();
    uint64_t eventsBefore = stats().events;
    {
      std::lock_guard lock(storeMutex_);
      ++stats_.watches;
    }
    auto started = std::chrono::steady_clock::now();
    auto end = client_.watch(
        options_.resource, options_.ns, watchOptions,
        [this](WatchEvent&& event) { applyEvent(std::move(event)); }, canceller_);
    if (stopping_) break;
    bool progressed = stats().events > eventsBefore;
    if (!end) {
      SLUICE_LOG(kInfo, "informer") << name << ": watch failed, retrying: " << end.error().message;
      // A watch that was up for a while (or delivered events) ended because the server went
      // away: retry soon, rather than after the delay a long outage before it had grown to.
      if (progressed || std::chrono::steady_clock::now() - started > std::chrono::seconds(1))
        backoff.reset();
      waitInterruptible(backoff.next());
      continue;
    }
    if (end->errorCode == 410) {
      // Our resourceVersion is older than the server's history: start over from a fresh list.
      SLUICE_LOG(kInfo, "informer") << name << ": resourceVersion expired (410 Gone), relisting";
      std::lock_guard lock(storeMutex_);
      ++stats_.relistsAfterGone;
      needList = true;
      continue;
    }
    if (end->errorCode != 0) {
      SLUICE_LOG(kWarning, "informer")
          << name << ": watch error " << end->errorCode << ": " << end->errorMessage;
      waitInterruptible(backoff.next());
      continue;
    }
    // A normal end (server timeout). Re-watch at once, unless the server keeps closing early.
    if (progressed || std::chrono::steady_clock::now() - started > std::chrono::seconds(1)) {
      backoff.reset();
    } else {
      waitInterruptible(backoff.next());
    }
  }
}

}  // namespace sluice::kube
