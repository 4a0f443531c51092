// PodNetworkUnit: this node's pods on br-int. Attach and detach (from CNI, on the loop thread)
// add or remove a pod's port and its flows, one flow owner per pod; restore() finds the pods OVS
// still has after an agent restart. The flows come from features::podFlows.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "agent/cni_service.h"
#include "agent/features/pod_network.h"
#include "agent/flow_sink.h"
#include "agent/pod_ports.h"
#include "ofrules/pipeline.h"

namespace sluice::agent {

// The flow owner of a pod attachment.
std::string podOwner(const std::string& containerId, const std::string& ifName);

// A pod on this node, as the other units see it.
struct LocalPodEntry {
  features::LocalPod pod;
  std::string podNamespace;  // empty for a pod without a Pod object (podman)
  std::string podName;
};

class PodNetworkUnit {
 public:
  struct Dependencies {
    const ofrules::Pipeline& pipeline;
    const features::NodeNetwork& network;
    FlowSink& integration;
    PodPorts& ports;
    // Called on the loop after the pod set changed, before the change is synced: a new pod may
    // be selected by an Egress, and its first packet must already leave right.
    std::function<void()> onPodsChanged;
  };
  explicit PodNetworkUnit(Dependencies dependencies) : deps_(std::move(dependencies)) {}

  // On the loop thread.
  void restore();
  [[nodiscard]] Result<int> attach(const PodAttachment& attachment);
  [[nodiscard]] Result<void> detach(const PodAttachment& attachment);

  const std::map<std::string, LocalPodEntry>& pods() const { return pods_; }  // by flow owner

 private:
  Result<void> setPodFlows(const LocalPodEntry& entry);

  Dependencies deps_;
  std::map<std::string, LocalPodEntry> pods_;
};

}  // namespace sluice::agent
