// The ExternalIPPool (crd.antrea.io) as a typed model. The ranges stay as written: the
// controller validates them with messages that name the entry and the fix.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/object.h"
#include "kube/label_selector.h"

namespace sluice::api {

// One entry of spec.ipRanges: either cidr, or start and end ("" when absent).
struct IpRangeSpec {
  std::string cidr;
  std::string start;
  std::string end;
  bool operator==(const IpRangeSpec&) const = default;
};

struct ExternalIpPoolSpec {
  std::vector<std::optional<IpRangeSpec>> ipRanges;  // nullopt: an entry that is not an object
  bool hasNodeSelector = false;                      // present and not null (even when invalid)
  std::optional<kube::LabelSelector> nodeSelector;   // valid selector; absent: every node
};

struct ExternalIpPoolStatus {
  std::optional<std::int64_t> total;  // status.usage.total, when written
  std::optional<std::int64_t> used;
  std::vector<Condition> conditions;
};

struct ExternalIpPool {
  ObjectMeta metadata;
  ExternalIpPoolSpec spec;
  ExternalIpPoolStatus status;
  // Fields of the wrong type, and an invalid spec.nodeSelector (field "spec.nodeSelector").
  std::vector<Problem> problems;

  // Never throws: any JSON value decodes, with problems for what is unusable.
  static ExternalIpPool decode(const nlohmann::json& object);
};

}  // namespace sluice::api
