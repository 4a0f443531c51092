// IngressGuard: on the userspace datapath the node's kernel also sees every frame on a port OVS
// reads, and would answer ARP and forward pod packets itself (docs/userspace-datapath.md). A
// netdev-family nftables chain per OVS-owned device drops those frames at ingress; OVS still
// receives them (AF_PACKET taps sit before the ingress hook).
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

struct nft_ctx;

namespace sluice::agent {

class IngressGuard {
 public:
  // table: the nftables table (family netdev) Sluice owns, e.g. "sluice".
  static Result<std::unique_ptr<IngressGuard>> create(const std::string& table = "sluice");
  ~IngressGuard();
  IngressGuard(const IngressGuard&) = delete;
  IngressGuard& operator=(const IngressGuard&) = delete;

  // Idempotent. The device must exist.
  Result<void> guard(const std::string& device);
  // A missing chain or device is fine.
  Result<void> unguard(const std::string& device);
  bool guarded(const std::string& device);

 private:
  IngressGuard(nft_ctx* context, std::string table);
  Result<std::string> run(const std::string& command);
  static std::string chainName(const std::string& device) { return "drop-" + device; }

  nft_ctx* context_;
  std::string table_;
};

}  // namespace sluice::agent
