// Node, Pod and Namespace decoding.
#include "api/core.h"

namespace sluice::api {

using nlohmann::json;

Node Node::decode(const json& object) {
  Node node;
  node.metadata = decodeMeta(object, "Node", node.problems);
  if (!object.is_object()) return node;
  FieldReader reader("Node", node.metadata.name, node.problems);
  if (const json* spec = reader.object(object, "spec", "spec"))
    node.podCIDR = reader.string(*spec, "podCIDR", "spec.podCIDR").value_or("");
  const json* status = reader.object(object, "status", "status");
  const json* addresses = status ? reader.array(*status, "addresses", "status.addresses") : nullptr;
  for (std::size_t i = 0; addresses && i < addresses->size(); ++i) {
    const auto& address = (*addresses)[i];
    const std::string field = "status.addresses[" + std::to_string(i) + "]";
    if (!address.is_object()) continue;
    if (reader.string(address, "type", field + ".type").value_or("") != "InternalIP") continue;
    node.internalIP = reader.string(address, "address", field + ".address").value_or("");
    break;
  }
  return node;
}

Pod Pod::decode(const json& object) {
  Pod pod;
  pod.metadata = decodeMeta(object, "Pod", pod.problems);
  if (!object.is_object()) return pod;
  FieldReader reader("Pod", pod.metadata.name, pod.problems);
  if (const json* spec = reader.object(object, "spec", "spec"))
    pod.nodeName = reader.string(*spec, "nodeName", "spec.nodeName").value_or("");
  if (const json* status = reader.object(object, "status", "status"))
    pod.podIP = reader.string(*status, "podIP", "status.podIP").value_or("");
  return pod;
}

Namespace Namespace::decode(const json& object) {
  Namespace decoded;
  decoded.metadata = decodeMeta(object, "Namespace", decoded.problems);
  return decoded;
}

}  // namespace sluice::api
