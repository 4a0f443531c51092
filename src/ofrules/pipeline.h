// The OpenFlow pipeline: stages, the tables features declare, and their IDs in declaration order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ofrules/flow.h"

namespace sluice::ofrules {

// The bridges Sluice programs. Each has its own pipeline; table IDs count from 0 on each.
enum class Bridge : std::uint8_t {
  kIntegration,  // br-int: pods, the tunnel, the gateway, the patch to br-phy
  kPhysical,     // br-phy: the uplink, the node's own address, the patch to br-int
};

// Stages in packet order. Tables of an earlier stage always get lower IDs.
enum class Stage : std::uint8_t {
  kClassifier,
  kValidation,
  kConntrackState,
  kLoadBalancing,
  kRouting,
  kPostRouting,
  kConntrack,
  kOutput,
};

// Every table Sluice knows, in declaration order. IDs follow this order among the tables that
// some feature declared; features never write table numbers.
enum class Table : std::uint8_t {
  kClassifier,       // classify by in_port: pod, tunnel, gateway, uplink; ARP vs IP
  kSpoofGuard,       // drop pod packets whose source IP/MAC is not the pod's
  kArpResponder,     // answer ARP for addresses the node owns (gateway, egress IPs)
  kUnSnat,           // un-NAT replies to egress SNAT in kSnatCtZone
  kConntrackZone,    // ct(zone=default,nat) to track and un-DNAT
  kConntrackState,   // drop invalid connections, skip rules for established ones
  kSessionAffinity,  // learned ClientIP affinity: the endpoint a client had (resubmit only)
  kServiceLb,        // new connections to a Service frontend pick an endpoint (select group)
  kEndpointDnat,     // ct(commit,nat(dst=ENDPOINT)) for the endpoint chosen
  kL3Forwarding,     // route by destination: local pod, remote node (tunnel), gateway
  kEgressMark,       // pick the Egress for traffic leaving the cluster
  kL3DecTtl,         // dec_ttl on routed packets
  kSnat,             // ct(commit,zone=snat,nat(src=EGRESS_IP)) on the egress node
  kConntrackCommit,  // commit new connections in the default zone
  kOutput,           // output:TargetOfPort
  // br-phy: a plain switch for the node, except what OVS NATed and the egress IPs.
  kPhysicalClassifier,  // tunnel and NATed traffic for the node, egress IPs, their ARP
  kPhysicalConntrack,   // replies of connections OVS NATed go to br-int; the rest to the node
};
inline constexpr std::size_t kTableCount = static_cast<std::size_t>(Table::kPhysicalConntrack) + 1;

// What a table does with a packet no flow matches: its priority-0 flow.
enum class MissAction : std::uint8_t { kNext, kDrop, kNormal, kLocal };

struct TableSpec {
  Table table;
  std::string_view name;  // Antrea-like, e.g. "L3Forwarding"; sluicectl prints it
  Bridge bridge;
  Stage stage;
  MissAction miss;
};

// The static description of every table, indexed by Table.
const TableSpec& tableSpec(Table table);
std::string_view tableName(Table table);
std::string_view stageName(Stage stage);

class Pipeline;

// A table of a particular pipeline: what a FlowBuilder starts from. The pipeline must outlive it.
struct TableRef {
  const Pipeline* pipeline = nullptr;
  Table table = Table::kClassifier;
};

// A table as allocated: its ID and who asked for it.
struct AllocatedTable {
  Table table;
  std::uint8_t id;
  std::vector<std::string> features;  // the features that declared it, in declaration order
};

// The allocated pipeline. Immutable; owned by the agent (tests make their own).
class Pipeline {
 public:
  Bridge bridge() const { return bridge_; }
  TableRef table(Table table) const { return TableRef{this, table}; }

  std::optional<std::uint8_t> id(Table table) const;
  bool contains(Table table) const { return id(table).has_value(); }
  // The next allocated table after `table`, if any.
  std::optional<Table> next(Table table) const;
  std::optional<Table> tableById(std::uint8_t id) const;
  // For sluicectl: name by ID and ID by name ("L3Forwarding").
  std::optional<std::string_view> nameById(std::uint8_t id) const;
  std::optional<std::uint8_t> idByName(std::string_view name) const;

  const std::vector<AllocatedTable>& tables() const { return tables_; }
  // One priority-0 flow per table that implements its MissAction.
  std::vector<Flow> missFlows(Cookie cookie) const;
  // A human-readable listing: "0 Classifier (Classifier) pod,tunnel", one per line.
  std::string describe() const;

 private:
  friend class PipelineBuilder;
  Bridge bridge_ = Bridge::kIntegration;
  std::vector<AllocatedTable> tables_;
  std::array<std::optional<std::uint8_t>, kTableCount> ids_{};
};

// Collects the tables each feature needs, on either bridge, then allocates IDs per bridge.
//   PipelineBuilder builder;
//   builder.declare("pod", {Table::kClassifier, Table::kSpoofGuard, Table::kPhysicalClassifier});
//   builder.declare("egress", {Table::kEgressMark, Table::kSnat});
//   Pipeline integration = builder.build();
//   Pipeline physical = builder.build(Bridge::kPhysical);
class PipelineBuilder {
 public:
  PipelineBuilder& declare(std::string_view feature, std::initializer_list<Table> tables);
  PipelineBuilder& declare(std::string_view feature, const std::vector<Table>& tables);
  // The bridge's first table (Classifier, PhysicalClassifier) is always allocated, as table 0:
  // every packet enters there.
  Pipeline build(Bridge bridge = Bridge::kIntegration) const;

 private:
  std::array<std::vector<std::string>, kTableCount> declaredBy_{};
};

}  // namespace sluice::ofrules
