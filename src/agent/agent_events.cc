// AgentEvents: a queue in front of kube::EventRecorder, drained by one thread.
#include "agent/agent_events.h"

#include "common/log.h"

namespace sluice::agent {

namespace {
constexpr std::size_t kMaxQueued = 256;  // a flood of problems must not grow memory without bound
}

AgentEvents::AgentEvents(kube::Client& client, kube::EventRecorderOptions options)
    : recorder_(client, std::move(options)), worker_([this] { run(); }) {}

AgentEvents::~AgentEvents() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  worker_.join();
}

void AgentEvents::record(nlohmann::json involvedObject, kube::EventType type, std::string reason,
                         std::string message) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kMaxQueued) return;
    queue_.push_back({std::move(involvedObject), type, std::move(reason), std::move(message)});
  }
  wake_.notify_one();
}

void AgentEvents::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto next = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    if (auto recorded = recorder_.record(next.object, next.type, next.reason, next.message);
        !recorded)
      SLUICE_LOG(kWarning, "events")
          << "could not record " << next.reason << ": " << recorded.error().message;
    lock.lock();
  }
}

}  // namespace sluice::agent
