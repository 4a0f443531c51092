// StatusWriter: PATCH /status, with a recomputing retry on conflict.
#include "controller/status_writer.h"

#include "kube/resource.h"

namespace sluice::controller {
namespace {

using nlohmann::json;

const json& statusOf(const json& object) {
  static const json kEmpty = json::object();
  auto it = object.find("status");
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

}  // namespace

kube::ApiResult<json> StatusWriter::writeEgress(const EgressWrite& write,
                                                const std::string& nowText) {
  auto patched =
      client_.patchStatus(kube::resources::kEgresses, "", write.egress.name,
                          json{{"metadata", {{"resourceVersion", write.resourceVersion}}},
                               {"status", kube::createMergePatch(write.current, write.desired)}});
  if (patched || !patched.conflict()) return patched;
  const EgressResult* result = write.result ? &*write.result : nullptr;
  return client_.mutateStatus(kube::resources::kEgresses, "", write.egress.name, [&](json& object) {
    const auto fresh = withHandovers(
        desiredEgressStatus(write.egress, result, statusOf(object), nowText), write.handovers);
    if (object.contains("status") && object["status"] == fresh) return false;
    object["status"] = fresh;
    return true;
  });
}

kube::ApiResult<json> StatusWriter::writePool(const PoolWrite& write) {
  return client_.patchStatus(kube::resources::kExternalIpPools, "", write.name,
                             json{{"status", write.desired}});
}

}  // namespace sluice::controller
