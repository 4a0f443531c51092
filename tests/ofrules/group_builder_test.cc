// GroupBuilder validation (golden renderings are in golden_test.cc).
#include <catch2/catch.hpp>

#include "golden_cases.h"
#include "ofrules/group_builder.h"

namespace sluice::ofrules {
namespace {

using Catch::Matchers::Contains;

std::string errorOf(const Result<Group>& result) {
  REQUIRE_FALSE(result.ok());
  return result.error().message;
}

TEST_CASE("select buckets carry weights, other groups do not", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  auto select =
      GroupBuilder(1, GroupType::kSelect).bucket(10, BucketActions(pipeline).output(1)).build();
  REQUIRE(select.ok());
  CHECK(select->buckets == std::vector<Bucket>{{10, "output:1"}});
  CHECK_THAT(
      errorOf(
          GroupBuilder(1, GroupType::kSelect).bucket(BucketActions(pipeline).output(1)).build()),
      Contains("group 1 (select): bucket 0 has no weight"));
  CHECK_THAT(
      errorOf(
          GroupBuilder(2, GroupType::kAll).bucket(5, BucketActions(pipeline).output(1)).build()),
      Contains("bucket 0 has weight 5, but only select groups use weights"));
}

TEST_CASE("bucket actions are validated and may not goto", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  CHECK_THAT(errorOf(GroupBuilder(3, GroupType::kAll)
                         .bucket(BucketActions(pipeline).gotoTable(Table::kOutput))
                         .build()),
             Contains("bucket 0: goto_table Output in a group bucket"));
  CHECK_THAT(errorOf(GroupBuilder(3, GroupType::kAll)
                         .bucket(BucketActions(pipeline).output(1))
                         .bucket(BucketActions(pipeline).load(kPacketSource, 99))
                         .build()),
             Contains("bucket 1: load 0x63 to PacketSource"));
}

TEST_CASE("indirect groups have one bucket; reserved IDs and fast-failover are refused", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  CHECK_THAT(errorOf(GroupBuilder(4, GroupType::kIndirect).build()),
             Contains("exactly one bucket, not 0"));
  CHECK_THAT(errorOf(GroupBuilder(0xffffffff, GroupType::kAll).build()),
             Contains("the ID is reserved"));
  CHECK_THAT(errorOf(GroupBuilder(5, GroupType::kFastFailover).build()), Contains("watch ports"));
}

}  // namespace
}  // namespace sluice::ofrules
