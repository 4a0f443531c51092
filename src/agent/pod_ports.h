// PodPorts: OVSDB as the pod network unit needs it: add a pod's port (and, on the userspace
// datapath, its ingress guard), remove it, and list the pod ports OVS still has after a restart.
// OvsdbPodPorts is the real one; tests use a fake (tests/agent/fakes.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/cni_service.h"
#include "agent/ingress_guard.h"
#include "common/result.h"
#include "ovsdb/ovsdb_client.h"

namespace sluice::agent {

class PodPorts {
 public:
  virtual ~PodPorts() = default;
  // Adds the attachment's port with its identity in external_ids; its ofport. On failure nothing
  // is left behind.
  [[nodiscard]] virtual Result<std::uint32_t> add(const PodAttachment& attachment) = 0;
  [[nodiscard]] virtual Result<void> remove(const std::string& hostIfName) = 0;
  // The pod ports OVS has, as attachments (hostIfName, ofport and identity filled in).
  [[nodiscard]] virtual Result<std::vector<PodAttachment>> list() = 0;
};

struct OvsdbPodPortsOptions {
  std::string bridge;  // br-int
  // The userspace datapath's taps need the ingress guard (ingress_guard.h); null: no guard.
  IngressGuard* guard = nullptr;
  std::chrono::milliseconds ofportWait{10000};
};

class OvsdbPodPorts : public PodPorts {
 public:
  OvsdbPodPorts(ovsdb::OvsdbClient& ovsdb, OvsdbPodPortsOptions options)
      : ovsdb_(ovsdb), options_(std::move(options)) {}
  Result<std::uint32_t> add(const PodAttachment& attachment) override;
  Result<void> remove(const std::string& hostIfName) override;
  Result<std::vector<PodAttachment>> list() override;

 private:
  void removeQuietly(const std::string& hostIfName);

  ovsdb::OvsdbClient& ovsdb_;
  OvsdbPodPortsOptions options_;
};

}  // namespace sluice::agent
