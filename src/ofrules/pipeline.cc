// Table specs and ID allocation for the OpenFlow pipeline.
#include "ofrules/pipeline.h"

#include <algorithm>

namespace sluice::ofrules {
namespace {

constexpr std::array<TableSpec, kTableCount> kTableSpecs = {{
    {Table::kClassifier, "Classifier", Bridge::kIntegration, Stage::kClassifier, MissAction::kDrop},
    {Table::kSpoofGuard, "SpoofGuard", Bridge::kIntegration, Stage::kValidation, MissAction::kDrop},
    {Table::kArpResponder, "ARPResponder", Bridge::kIntegration, Stage::kValidation,
     MissAction::kNormal},
    {Table::kUnSnat, "UnSNAT", Bridge::kIntegration, Stage::kConntrackState, MissAction::kNext},
    {Table::kConntrackZone, "ConntrackZone", Bridge::kIntegration, Stage::kConntrackState,
     MissAction::kNext},
    {Table::kConntrackState, "ConntrackState", Bridge::kIntegration, Stage::kConntrackState,
     MissAction::kNext},
    // Only reached by resubmit from ConntrackState: a miss returns, with nothing loaded.
    {Table::kSessionAffinity, "SessionAffinity", Bridge::kIntegration, Stage::kLoadBalancing,
     MissAction::kDrop},
    {Table::kServiceLb, "ServiceLB", Bridge::kIntegration, Stage::kLoadBalancing,
     MissAction::kNext},
    {Table::kEndpointDnat, "EndpointDNAT", Bridge::kIntegration, Stage::kLoadBalancing,
     MissAction::kNext},
    {Table::kL3Forwarding, "L3Forwarding", Bridge::kIntegration, Stage::kRouting,
     MissAction::kNext},
    {Table::kEgressMark, "EgressMark", Bridge::kIntegration, Stage::kRouting, MissAction::kNext},
    {Table::kL3DecTtl, "L3DecTTL", Bridge::kIntegration, Stage::kRouting, MissAction::kNext},
    {Table::kSnat, "SNAT", Bridge::kIntegration, Stage::kPostRouting, MissAction::kNext},
    {Table::kConntrackCommit, "ConntrackCommit", Bridge::kIntegration, Stage::kConntrack,
     MissAction::kNext},
    {Table::kOutput, "Output", Bridge::kIntegration, Stage::kOutput, MissAction::kDrop},
    {Table::kPhysicalClassifier, "PhysicalClassifier", Bridge::kPhysical, Stage::kClassifier,
     MissAction::kNormal},
    {Table::kPhysicalConntrack, "PhysicalConntrack", Bridge::kPhysical, Stage::kConntrackState,
     MissAction::kLocal},
}};

constexpr bool specsInOrder() {
  for (std::size_t i = 0; i < kTableSpecs.size(); ++i) {
    if (static_cast<std::size_t>(kTableSpecs[i].table) != i) return false;
    if (i > 0 && kTableSpecs[i].bridge == kTableSpecs[i - 1].bridge &&
        kTableSpecs[i].stage < kTableSpecs[i - 1].stage)
      return false;
    if (i > 0 && kTableSpecs[i].bridge < kTableSpecs[i - 1].bridge) return false;
  }
  return true;
}
// Declaration order must agree with stage order, or IDs would not follow the packet's path.
static_assert(specsInOrder(),
              "kTableSpecs must list every Table in enum order, by bridge, stages ascending");

// The table every packet of `bridge` enters first.
constexpr Table firstTable(Bridge bridge) {
  return bridge == Bridge::kIntegration ? Table::kClassifier : Table::kPhysicalClassifier;
}

constexpr std::array<std::string_view, 8> kStageNames = {
    "Classifier", "Validation",  "ConntrackState", "LoadBalancing",
    "Routing",    "PostRouting", "Conntrack",      "Output"};

}  // namespace

const TableSpec& tableSpec(Table table) { return kTableSpecs[static_cast<std::size_t>(table)]; }
std::string_view tableName(Table table) { return tableSpec(table).name; }
std::string_view stageName(Stage stage) { return kStageNames[static_cast<std::size_t>(stage)]; }

std::optional<std::uint8_t> Pipeline::id(Table table) const {
  return ids_[static_cast<std::size_t>(table)];
}

std::optional<Table> Pipeline::next(Table table) const {
  auto current = id(table);
  if (!current || *current + 1u >= tables_.size()) return std::nullopt;
  return tables_[*current + 1u].table;
}

std::optional<Table> Pipeline::tableById(std::uint8_t id) const {
  if (id >= tables_.size()) return std::nullopt;
  return tables_[id].table;
}

std::optional<std::string_view> Pipeline::nameById(std::uint8_t id) const {
  auto table = tableById(id);
  if (!table) return std::nullopt;
  return tableName(*table);
}

std::optional<std::uint8_t> Pipeline::idByName(std::string_view name) const {
  for (const auto& allocated : tables_) {
    if (tableName(allocated.table) == name) return allocated.id;
  }
  return std::nullopt;
}

std::vector<Flow> Pipeline::missFlows(Cookie cookie) const {
  std::vector<Flow> flows;
  for (const auto& allocated : tables_) {
    Flow flow{allocated.id, 0, "", "drop", cookie.encode()};
    switch (tableSpec(allocated.table).miss) {
      case MissAction::kDrop: break;
      case MissAction::kNormal: flow.actions = "NORMAL"; break;
      case MissAction::kLocal: flow.actions = "LOCAL"; break;
      case MissAction::kNext:
        if (allocated.id + 1u < tables_.size())
          flow.actions = "goto_table:" + std::to_string(allocated.id + 1);
        break;
    }
    flows.push_back(std::move(flow));
  }
  return flows;
}

std::string Pipeline::describe() const {
  std::string text;
  for (const auto& allocated : tables_) {
    const auto& spec = tableSpec(allocated.table);
    text += std::to_string(allocated.id) + " " + std::string(spec.name) + " (" +
            std::string(stageName(spec.stage)) + ")";
    for (std::size_t i = 0; i < allocated.features.size(); ++i) {
      text += (i == 0 ? " " : ",") + allocated.features[i];
    }
    text += "\n";
  }
  return text;
}

PipelineBuilder& PipelineBuilder::declare(std::string_view feature,
                                          std::initializer_list<Table> tables) {
  return declare(feature, std::vector<Table>(tables));
}

PipelineBuilder& PipelineBuilder::declare(std::string_view feature,
                                          const std::vector<Table>& tables) {
  for (Table table : tables) {
    auto& features = declaredBy_[static_cast<std::size_t>(table)];
    if (std::find(features.begin(), features.end(), feature) == features.end())
      features.emplace_back(feature);
  }
  return *this;
}

Pipeline PipelineBuilder::build(Bridge bridge) const {
  Pipeline pipeline;
  pipeline.bridge_ = bridge;
  for (std::size_t index = 0; index < kTableCount; ++index) {
    auto table = static_cast<Table>(index);
    if (tableSpec(table).bridge != bridge) continue;
    if (table != firstTable(bridge) && declaredBy_[index].empty()) continue;
    auto id = static_cast<std::uint8_t>(pipeline.tables_.size());
    pipeline.ids_[index] = id;
    pipeline.tables_.push_back(AllocatedTable{table, id, declaredBy_[index]});
  }
  return pipeline;
}

}  // namespace sluice::ofrules
