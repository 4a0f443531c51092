// Golden flows: each builder call next to the exact ovs-ofctl string it must render.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "ofrules/fields.h"
#include "ofrules/flow.h"
#include "ofrules/pipeline.h"

namespace sluice::ofrules::testing {

struct GoldenFlow {
  std::string name;
  Result<Flow> flow;
  std::string expected;  // renderFlow() of the flow
};

// Fields outside the agent's allocation, for the builder's tests: a second ct_mark bit and a
// second nibble of reg0, so matches, loads and moves that combine fields of one container stay
// covered.
inline constexpr Field kTestCtFromGateway =
    ctMarkField("CtFromGateway", 0, 0, "test: the connection came from the gateway");
inline constexpr Mark kTestCtFromGatewayMark{kTestCtFromGateway, 1, "CtFromGateway"};
inline constexpr Field kTestPacketDestination =
    registerField("PacketDestination", 0, 4, 7, "test: where the packet leaves");

// Every table declared, so table IDs equal the Table enum's values (Classifier 0 ... Output 11).
Pipeline fullPipeline();
// The cookie every golden flow carries: round 1, Category::kTest, owner 0x42.
Cookie goldenCookie();

std::vector<GoldenFlow> goldenFlows(const Pipeline& pipeline);

}  // namespace sluice::ofrules::testing
