// PipelineFeature: the contract of a feature (pods, tunnels, egress) with the pipeline.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/hash.h"
#include "common/result.h"
#include "ofrules/flow.h"
#include "ofrules/pipeline.h"

namespace sluice::ofrules {

// A feature declares the tables it needs before the pipeline is built, and then produces its
// fixed flows from the built pipeline. Flows for Kubernetes objects are built elsewhere by the
// feature, with the same FlowBuilder.
class PipelineFeature {
 public:
  virtual ~PipelineFeature() = default;
  virtual std::string_view name() const = 0;
  virtual std::vector<Table> tables() const = 0;
  // Flows that exist while the feature is on, independent of any object (e.g. ARP for the gateway).
  virtual Result<std::vector<Flow>> initialFlows(const Pipeline& pipeline) const = 0;
};

// Builds the pipeline from the features' declarations.
inline Pipeline buildPipeline(const std::vector<const PipelineFeature*>& features) {
  PipelineBuilder builder;
  for (const PipelineFeature* feature : features)
    builder.declare(feature->name(), feature->tables());
  return builder.build();
}

// The cookie of a flow owned by `ownerKey` (e.g. "pod/default/web-1", "egress/egress-a"). The
// round is left 0: the syncer fills in its own.
constexpr Cookie makeOwnerCookie(Category category, std::string_view ownerKey) {
  return Cookie{0, category, stableHash(ownerKey) & Cookie::kOwnerMask};
}

}  // namespace sluice::ofrules
