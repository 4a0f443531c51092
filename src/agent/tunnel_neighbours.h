// TunnelNeighbours: OVS's userspace tunnelling needs the next hop's MAC for every remote node.
// Left to itself it learns the MAC by snooping ARP on br-phy and drops the packet that made it
// ask, so the first packet to a node is lost. This resolves each remote node's neighbour through
// the kernel ahead of traffic, hands it to ovs-vswitchd (`tnl/neigh/set BRIDGE IP MAC`), and
// retries until that succeeds. An ovs-vswitchd restart empties OVS's cache and, on the userspace
// datapath, the kernel's too (br-phy is ovs-vswitchd's tap): then the MAC known from before is
// handed over at once, before the switch forwards again, while the kernel learns it anew.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "agent/ovs_control.h"
#include "agent/task_loop.h"
#include "common/mac_address.h"

namespace sluice::agent {

struct Neighbour {
  Ipv4 ip = 0;  // the next hop: the node itself, or the gateway the route to it names
  MacAddress mac;
};

// The kernel's neighbours on the physical bridge: real netlink in the agent, a fake in tests.
class NeighbourTable {
 public:
  virtual ~NeighbourTable() = default;
  // The next hop towards `nodeIp` and its MAC, once the kernel has one.
  [[nodiscard]] virtual Result<std::optional<Neighbour>> lookup(Ipv4 nodeIp) = 0;
  // Makes the kernel resolve the next hop towards `nodeIp` (it ARPs for it).
  virtual void probe(Ipv4 nodeIp) = 0;
};

class KernelNeighbourTable : public NeighbourTable {
 public:
  explicit KernelNeighbourTable(std::string bridge) : bridge_(std::move(bridge)) {}
  Result<std::optional<Neighbour>> lookup(Ipv4 nodeIp) override;
  void probe(Ipv4 nodeIp) override;

 private:
  std::string bridge_;
};

struct TunnelNeighboursOptions {
  std::string bridge;  // br-phy
  std::chrono::milliseconds firstRetry{20};
  std::chrono::milliseconds maxRetry{1000};
};

// On the loop thread.
class TunnelNeighbours {
 public:
  TunnelNeighbours(TaskLoop& loop, NeighbourTable& table, OvsControl& control,
                   TunnelNeighboursOptions options)
      : loop_(loop), table_(table), control_(control), options_(std::move(options)) {}

  void resolve(Ipv4 nodeIp);
  void forget(Ipv4 nodeIp) { nodes_.erase(nodeIp); }
  // Hands every node's neighbour to ovs-vswitchd again (after its restart; and now and then, as
  // its entries age out when idle).
  void refreshAll();
  // Whether ovs-vswitchd has been given the node's neighbour.
  bool resolved(Ipv4 nodeIp) const;

 private:
  struct Node {
    std::optional<Neighbour> known;  // the last neighbour handed over
    bool resolved = false;
    bool retryPending = false;
    std::chrono::milliseconds nextRetry{0};
  };
  void attempt(Ipv4 nodeIp);
  Result<void> handOver(Ipv4 nodeIp, Node& node);

  TaskLoop& loop_;
  NeighbourTable& table_;
  OvsControl& control_;
  TunnelNeighboursOptions options_;
  std::map<Ipv4, Node> nodes_;
};

}  // namespace sluice::agent
