// libFuzzer target: decoding Kubernetes objects as the controller and the agent receive them
// from informers: Egress (both decoders), ExternalIPPool, Node, Pod and the generic resource
// helpers, then the controller's pure scheduling step over whatever decoded.
#include <cstddef>
#include <cstdint>

#include "agent/features/egress.h"
#include "controller/egress_decoder.h"
#include "controller/egress_scheduler.h"
#include "fuzz/fuzz_common.h"
#include "kube/label_selector.h"
#include "kube/resource.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  auto document = fuzz::jsonOf(fuzz::textOf(data, size));
  if (!document) return 0;
  // Informers deliver objects; a List delivers items. Accept both so seeds can hold several.
  std::vector<nlohmann::json> objects;
  if (document->is_object() && document->contains("items") && (*document)["items"].is_array())
    for (const auto& item : (*document)["items"]) objects.push_back(item);
  else
    objects.push_back(*document);

  std::vector<controller::DecodedPool> pools;
  std::vector<controller::DecodedNode> nodes;
  std::vector<controller::DecodedEgress> egresses;
  for (const auto& object : objects) {
    (void)kube::nameOf(object);
    (void)kube::namespaceOf(object);
    (void)kube::resourceVersionOf(object);
    (void)kube::uidOf(object);
    (void)kube::keyOf(object);
    (void)kube::labelsOf(object);
    pools.push_back(controller::decodePool(object));
    nodes.push_back(controller::decodeNode(object));
    egresses.push_back(controller::decodeEgress(object));
    if (auto policy = agent::features::decodeEgressPolicy(object); policy) {
      const agent::features::EgressPod pod{"pod:c/eth0", kube::namespaceOf(object),
                                           kube::nameOf(object), kube::labelsOf(object),
                                           0x0af40102};
      (void)agent::features::chooseAssignment(*policy, pod);
    }
  }
  const auto input = controller::buildSchedulerInput(
      pools, nodes, egresses,
      [](const std::string& name) {
        return name.size() % 2 ? controller::NodeLiveness::kAlive
                               : controller::NodeLiveness::kUnknown;
      },
      controller::BuildOptions{});
  (void)controller::schedule(input);
  for (const auto& egress : egresses)
    (void)controller::desiredEgressStatus(egress, nullptr, nlohmann::json::object(),
                                          "2026-01-01T00:00:00Z")
        .dump();
  return 0;
}
