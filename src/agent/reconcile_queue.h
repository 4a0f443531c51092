// ReconcileQueue: a unit's coalescing queue of dirty keys on the agent's TaskLoop. Informer
// handlers (any thread) add keys; the loop runs the unit's reconcile once for everything added
// since it last ran, so a burst of events costs one reconcile.
#pragma once

#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "agent/task_loop.h"

namespace sluice::agent {

class ReconcileQueue {
 public:
  using Reconcile = std::function<void(const std::set<std::string>& keys)>;
  ReconcileQueue(TaskLoop& loop, Reconcile reconcile)
      : loop_(loop), reconcile_(std::move(reconcile)) {}
  ReconcileQueue(const ReconcileQueue&) = delete;
  ReconcileQueue& operator=(const ReconcileQueue&) = delete;

  // Thread-safe. The key is reconciled on the loop, together with every other key added before
  // the loop gets to it.
  void add(const std::string& key);

 private:
  void drain();

  TaskLoop& loop_;
  Reconcile reconcile_;
  std::mutex mutex_;
  std::set<std::string> dirty_;
  bool scheduled_ = false;
};

}  // namespace sluice::agent
