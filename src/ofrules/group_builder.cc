// GroupBuilder: bucket validation and ovs-ofctl group rendering.
#include "ofrules/group_builder.h"

namespace sluice::ofrules {
namespace {

constexpr std::uint32_t kMaxGroupId = 0xffffff00;

}  // namespace

std::string_view groupTypeName(GroupType type) {
  switch (type) {
    case GroupType::kSelect: return "select";
    case GroupType::kAll: return "all";
    case GroupType::kIndirect: return "indirect";
    case GroupType::kFastFailover: return "ff";
  }
  return "?";
}

void GroupBuilder::addActionErrors(const std::string& label, const BucketActions& actions) {
  for (const auto& error : actions.actionList().errors()) {
    std::string message = label;
    message += ": ";
    message += error;
    errors_.push_back(std::move(message));
  }
}

GroupBuilder& GroupBuilder::bucket(std::uint32_t weight, const BucketActions& actions) {
  std::string label = "bucket " + std::to_string(buckets_.size());
  if (type_ != GroupType::kSelect) {
    errors_.push_back(label + " has weight " + std::to_string(weight) +
                      ", but only select groups use weights; " +
                      "call bucket(actions) without a weight");
  }
  addActionErrors(label, actions);
  buckets_.push_back(Bucket{weight, actions.actionList().render()});
  return *this;
}

GroupBuilder& GroupBuilder::bucket(const BucketActions& actions) {
  std::string label = "bucket " + std::to_string(buckets_.size());
  if (type_ == GroupType::kSelect) {
    errors_.push_back(label + " has no weight; select buckets need bucket(weight, actions)");
  }
  addActionErrors(label, actions);
  buckets_.push_back(Bucket{0, actions.actionList().render()});
  return *this;
}

Result<Group> GroupBuilder::build() const {
  std::vector<std::string> problems = errors_;
  if (id_ > kMaxGroupId)
    problems.push_back("the ID is reserved; use 0.." + std::to_string(kMaxGroupId));
  if (type_ == GroupType::kIndirect && buckets_.size() != 1) {
    problems.push_back("an indirect group needs exactly one bucket, not " +
                       std::to_string(buckets_.size()));
  }
  if (type_ == GroupType::kFastFailover) {
    problems.emplace_back(
        "fast-failover groups need watch ports, which the builder does not support yet");
  }
  if (!problems.empty()) {
    std::string message =
        "group " + std::to_string(id_) + " (" + std::string(groupTypeName(type_)) + "): ";
    for (std::size_t i = 0; i < problems.size(); ++i) message += (i > 0 ? "; " : "") + problems[i];
    return makeError(std::move(message));
  }
  return Group{id_, type_, buckets_};
}

std::string renderGroup(const Group& group) {
  std::string text =
      "group_id=" + std::to_string(group.id) + ",type=" + std::string(groupTypeName(group.type));
  for (const auto& bucket : group.buckets) {
    text += ",bucket=";
    if (group.type == GroupType::kSelect) text += "weight:" + std::to_string(bucket.weight) + ",";
    text += "actions=" + (bucket.actions.empty() ? std::string("drop") : bucket.actions);
  }
  return text;
}

}  // namespace sluice::ofrules
