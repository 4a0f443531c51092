// GroupBuilder: builds validated OpenFlow groups (select with weights, all, indirect) and renders
// them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "ofrules/actions.h"
#include "ofrules/flow.h"
#include "ofrules/pipeline.h"

namespace sluice::ofrules {

// The actions of one bucket. Tables resolve through the pipeline; goto_table is refused (buckets
// cannot goto), resubmit works.
class BucketActions : public ActionBuilder<BucketActions> {
 public:
  explicit BucketActions(const Pipeline& pipeline)
      : ActionBuilder(ActionContext{&pipeline, std::nullopt, true}) {}
};

//   GroupBuilder(7, GroupType::kSelect)
//       .bucket(10, BucketActions(pipeline).setTunnelDst("192.168.1.11").output(2))
//       .bucket(20, BucketActions(pipeline).setTunnelDst("192.168.1.12").output(2))
//       .build();
class GroupBuilder {
 public:
  GroupBuilder(std::uint32_t id, GroupType type) : id_(id), type_(type) {}

  // For select groups: the bucket is chosen in proportion to `weight` (0 = never).
  GroupBuilder& bucket(std::uint32_t weight, const BucketActions& actions);
  // For all and indirect groups.
  GroupBuilder& bucket(const BucketActions& actions);

  [[nodiscard]] Result<Group> build() const;

 private:
  void addActionErrors(const std::string& label, const BucketActions& actions);

  std::uint32_t id_;
  GroupType type_;
  std::vector<Bucket> buckets_;
  std::vector<std::string> errors_;
};

std::string_view groupTypeName(GroupType type);

// ovs-ofctl add-group syntax:
// "group_id=1,type=select,bucket=weight:10,actions=output:1,bucket=...".
std::string renderGroup(const Group& group);

}  // namespace sluice::ofrules
