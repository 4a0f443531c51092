// Pipeline: table IDs follow declaration order, lookups by name and ID, table-miss flows.
#include <catch2/catch.hpp>

#include "ofrules/pipeline.h"

namespace sluice::ofrules {
namespace {

TEST_CASE("table IDs follow declaration order, not the order features declare them", "[unit]") {
  PipelineBuilder builder;
  builder.declare("egress", {Table::kSnat, Table::kEgressMark});
  builder.declare("pod", {Table::kOutput, Table::kSpoofGuard, Table::kConntrackCommit});
  builder.declare("tunnel", {Table::kL3Forwarding, Table::kOutput});
  Pipeline pipeline = builder.build();

  CHECK(pipeline.id(Table::kClassifier) == 0);  // always present: every packet enters there
  CHECK(pipeline.id(Table::kSpoofGuard) == 1);
  CHECK(pipeline.id(Table::kL3Forwarding) == 2);
  CHECK(pipeline.id(Table::kEgressMark) == 3);
  CHECK(pipeline.id(Table::kSnat) == 4);
  CHECK(pipeline.id(Table::kConntrackCommit) == 5);
  CHECK(pipeline.id(Table::kOutput) == 6);
  CHECK_FALSE(pipeline.id(Table::kArpResponder).has_value());
  CHECK(pipeline.tables().size() == 7);

  PipelineBuilder reversed;
  reversed.declare("tunnel", {Table::kOutput, Table::kL3Forwarding});
  reversed.declare("pod", {Table::kConntrackCommit, Table::kSpoofGuard, Table::kOutput});
  reversed.declare("egress", {Table::kEgressMark, Table::kSnat});
  Pipeline other = reversed.build();
  for (const auto& table : pipeline.tables()) CHECK(other.id(table.table) == table.id);
}

TEST_CASE("tables are looked up by name and by ID", "[unit]") {
  Pipeline pipeline = PipelineBuilder().declare("egress", {Table::kSnat, Table::kUnSnat}).build();
  CHECK(pipeline.nameById(0) == std::optional<std::string_view>("Classifier"));
  CHECK(pipeline.nameById(1) == std::optional<std::string_view>("UnSNAT"));
  CHECK(pipeline.nameById(2) == std::optional<std::string_view>("SNAT"));
  CHECK_FALSE(pipeline.nameById(3).has_value());
  CHECK(pipeline.idByName("SNAT") == 2);
  CHECK_FALSE(pipeline.idByName("L3Forwarding").has_value());
  CHECK(pipeline.tableById(1) == Table::kUnSnat);
  CHECK(pipeline.next(Table::kClassifier) == Table::kUnSnat);
  CHECK_FALSE(pipeline.next(Table::kSnat).has_value());
  CHECK(tableSpec(Table::kSnat).stage == Stage::kPostRouting);
}

TEST_CASE("describe lists IDs, names, stages and the declaring features", "[unit]") {
  PipelineBuilder builder;
  builder.declare("pod", {Table::kSpoofGuard});
  builder.declare("egress", {Table::kSpoofGuard, Table::kSnat});
  builder.declare("egress", {Table::kSnat});
  CHECK(builder.build().describe() ==
        "0 Classifier (Classifier)\n"
        "1 SpoofGuard (Validation) pod,egress\n"
        "2 SNAT (PostRouting) egress\n");
}

TEST_CASE("each table gets a priority-0 flow for its miss action", "[unit]") {
  Pipeline pipeline =
      PipelineBuilder()
          .declare("t", {Table::kArpResponder, Table::kConntrackZone, Table::kOutput})
          .build();
  auto flows = pipeline.missFlows(Cookie{2, Category::kPipeline, 0});
  REQUIRE(flows.size() == 4);
  std::uint64_t cookie = Cookie{2, Category::kPipeline, 0}.encode();
  CHECK(flows[0] == Flow{0, 0, "", "drop", cookie});
  CHECK(flows[1] == Flow{1, 0, "", "NORMAL", cookie});
  CHECK(flows[2] == Flow{2, 0, "", "goto_table:3", cookie});
  CHECK(flows[3] == Flow{3, 0, "", "drop", cookie});
}

TEST_CASE("each bridge has its own pipeline from the same declarations", "[unit]") {
  PipelineBuilder builder;
  builder.declare("podnet", {Table::kSnat, Table::kPhysicalClassifier, Table::kPhysicalConntrack});
  builder.declare("egress", {Table::kEgressMark, Table::kPhysicalClassifier});
  const Pipeline integration = builder.build();
  const Pipeline physical = builder.build(Bridge::kPhysical);
  CHECK(integration.bridge() == Bridge::kIntegration);
  CHECK(integration.describe() ==
        "0 Classifier (Classifier)\n1 EgressMark (Routing) egress\n2 SNAT (PostRouting) podnet\n");
  CHECK(physical.bridge() == Bridge::kPhysical);
  CHECK(physical.describe() ==
        "0 PhysicalClassifier (Classifier) podnet,egress\n"
        "1 PhysicalConntrack (ConntrackState) podnet\n");
  // br-phy's first table switches what nobody claims; its second hands the rest to the node.
  const auto flows = physical.missFlows(Cookie{});
  REQUIRE(flows.size() == 2);
  CHECK(flows[0].actions == "NORMAL");
  CHECK(flows[1].actions == "LOCAL");
  // An empty declaration still gets each bridge's entry table.
  CHECK(PipelineBuilder().build(Bridge::kPhysical).describe() ==
        "0 PhysicalClassifier (Classifier)\n");
}

TEST_CASE("a next-miss in the last table drops", "[unit]") {
  Pipeline pipeline = PipelineBuilder().declare("t", {Table::kConntrackZone}).build();
  auto flows = pipeline.missFlows(Cookie{});
  REQUIRE(flows.size() == 2);
  CHECK(flows[1].actions == "drop");
}

}  // namespace
}  // namespace sluice::ofrules
