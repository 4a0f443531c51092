// Flow and Group: OpenFlow rules as plain values. Builders produce them, the syncer installs them.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/hash.h"

namespace sluice::ofrules {

// Cookie layout (64 bits), decoded by sluicectl and used by the syncer to find stale flows:
//   [63:48] round    - the agent's restart round, kept in OVSDB external_ids
//   [47:40] category - the feature that owns the flow (see Category)
//   [39:0]  owner    - a 40-bit hash of the owner key (a pod, an Egress, a node)
enum class Category : std::uint8_t {
  kUnknown = 0,
  kPipeline = 1,  // table-miss and other fixed flows of the pipeline
  kGateway = 2,
  kTunnel = 3,
  kPod = 4,
  kNodeRoute = 5,
  kEgress = 6,
  kService = 7,  // a Service frontend's flows and groups, and the proxy's node flows
  kTest = 255,
};

struct Cookie {
  std::uint16_t round = 0;
  Category category = Category::kUnknown;
  std::uint64_t ownerHash = 0;  // low 40 bits used

  static constexpr std::uint64_t kOwnerMask = (std::uint64_t{1} << 40) - 1;

  constexpr std::uint64_t encode() const {
    return (std::uint64_t{round} << 48) |
           (std::uint64_t{static_cast<std::uint8_t>(category)} << 40) | (ownerHash & kOwnerMask);
  }
  static Cookie decode(std::uint64_t value) {
    return Cookie{static_cast<std::uint16_t>(value >> 48),
                  static_cast<Category>(static_cast<std::uint8_t>(value >> 40)),
                  value & kOwnerMask};
  }
  // A cookie mask that selects every flow of one round.
  static constexpr std::uint64_t kRoundMask = std::uint64_t{0xffff} << 48;
};

// The cookie of a flow owned by `ownerKey` (e.g. "pod/default/web-1", "egress/egress-a"). The
// round is left 0: the syncer fills in its own, so a cookie of round 0 on a switch (a flow a
// learn() action added) is never a syncer's.
constexpr Cookie makeOwnerCookie(Category category, std::string_view ownerKey) {
  return Cookie{0, category, stableHash(ownerKey) & Cookie::kOwnerMask};
}

// The identity of a flow in OpenFlow: two flows with the same key cannot coexist in a switch.
struct FlowKey {
  std::uint8_t table = 0;
  std::uint16_t priority = 0;
  std::string match;  // canonical ovs-ofctl match syntax, fields in a fixed order
  auto operator<=>(const FlowKey&) const = default;  // NOLINT(modernize-use-nullptr): tidy bug
};

// One OpenFlow rule. `match` and `actions` are in ovs-ofctl syntax, rendered by the builder in a
// canonical order, so equal rules compare equal as strings.
struct Flow {
  std::uint8_t table = 0;
  std::uint16_t priority = 0;
  std::string match;    // e.g. "ip,in_port=3,nw_src=10.244.1.2"; empty matches everything
  std::string actions;  // e.g. "ct(table=3,zone=65520)"; "drop" for none
  std::uint64_t cookie = 0;

  FlowKey key() const { return FlowKey{table, priority, match}; }
  bool operator==(const Flow&) const = default;
};

enum class GroupType : std::uint8_t { kSelect, kAll, kIndirect, kFastFailover };

struct Bucket {
  std::uint32_t weight = 0;  // select groups only; 0 means the bucket is never chosen
  std::string actions;       // ovs-ofctl actions syntax
  bool operator==(const Bucket&) const = default;
};

struct Group {
  std::uint32_t id = 0;
  GroupType type = GroupType::kSelect;
  std::vector<Bucket> buckets;
  // Select groups: the OpenFlow 1.5 selection method, e.g. "hash" (empty: OVS's default, dp_hash
  // when the buckets fit its table). With "hash", OVS hashes `selectionFields` (ovs-ofctl names,
  // fields whose prerequisites a packet lacks are skipped) in userspace.
  std::string selectionMethod;
  std::vector<std::string> selectionFields;
  bool operator==(const Group&) const = default;
};

}  // namespace sluice::ofrules
