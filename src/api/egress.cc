// Egress decoding and the status wire form.
#include "api/egress.h"

namespace sluice::api {
namespace {

using nlohmann::json;

// A list of IPv4 CIDRs: the messages name the entry and show a valid example.
std::vector<Cidr> cidrList(FieldReader& reader, const json& spec, const char* key,
                           const std::string& field) {
  std::vector<Cidr> cidrs;
  if (!spec.is_object() || !spec.contains(key) || spec[key].is_null()) return cidrs;
  const auto& list = spec[key];
  if (!list.is_array()) {
    reader.invalid(field, field + " must be a list of IPv4 CIDRs");
    return cidrs;
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& entry = list[i];
    auto cidr = entry.is_string() ? parseCidr(entry.get<std::string>()) : std::nullopt;
    if (!cidr) {
      const std::string entryField = field + "[" + std::to_string(i) + "]";
      reader.invalid(entryField, entryField + ": " + entry.dump() +
                                     " is not an IPv4 CIDR such as 203.0.113.0/24");
      return {};
    }
    cidrs.push_back(*cidr);
  }
  return cidrs;
}

EgressAppliedTo decodeAppliedTo(FieldReader& reader, const json& appliedTo) {
  EgressAppliedTo decoded;
  decoded.hasPodSelector = appliedTo.contains("podSelector");
  decoded.hasNamespaceSelector = appliedTo.contains("namespaceSelector");
  decoded.namespaceSelector =
      reader.selector(appliedTo, "namespaceSelector", "spec.appliedTo.namespaceSelector");
  decoded.podSelector = reader.selector(appliedTo, "podSelector", "spec.appliedTo.podSelector");
  return decoded;
}

EgressSpec decodeSpec(FieldReader& reader, const json& spec) {
  EgressSpec decoded;
  if (const json* appliedTo = reader.object(spec, "appliedTo", "spec.appliedTo")) {
    decoded.hasAppliedTo = true;
    decoded.appliedTo = decodeAppliedTo(reader, *appliedTo);
  }
  decoded.egressIP = reader.string(spec, "egressIP", "spec.egressIP").value_or("");
  decoded.egressIPs = reader.strings(spec, "egressIPs", "spec.egressIPs");
  decoded.externalIPPool =
      reader.string(spec, "externalIPPool", "spec.externalIPPool").value_or("");
  decoded.externalIPPools = reader.strings(spec, "externalIPPools", "spec.externalIPPools");
  decoded.destinationCIDRs = cidrList(reader, spec, "destinationCIDRs", "spec.destinationCIDRs");
  decoded.excludedCIDRs = cidrList(reader, spec, "excludedCIDRs", "spec.excludedCIDRs");
  return decoded;
}

}  // namespace

EgressStatus decodeEgressStatus(const json& status, const std::string& egressName,
                                std::vector<Problem>& problems) {
  FieldReader reader("Egress", egressName, problems);
  EgressStatus decoded;
  decoded.egressIP = reader.string(status, "egressIP", "status.egressIP").value_or("");
  decoded.egressNode = reader.string(status, "egressNode", "status.egressNode").value_or("");
  if (const json* list = reader.array(status, "egressIPs", "status.egressIPs")) {
    decoded.egressIPs.emplace();
    for (std::size_t i = 0; i < list->size(); ++i) {
      const auto& entry = (*list)[i];
      const std::string field = "status.egressIPs[" + std::to_string(i) + "]";
      // Only the controller writes status: an entry that is not an object is skipped.
      if (!entry.is_object()) continue;
      decoded.egressIPs->push_back(EgressIpStatus{
          reader.string(entry, "ip", field + ".ip").value_or(""),
          reader.string(entry, "node", field + ".node").value_or(""),
          reader.string(entry, "pool", field + ".pool").value_or(""),
          reader.string(entry, "previousNode", field + ".previousNode").value_or("")});
    }
  }
  decoded.conditions = decodeConditions(reader, status);
  return decoded;
}

std::vector<EgressIpStatus> EgressStatus::assignments() const {
  if (egressIPs) return *egressIPs;
  if (egressIP.empty()) return {};
  return {EgressIpStatus{egressIP, egressNode, "", ""}};
}

Egress Egress::decode(const json& object) {
  Egress egress;
  egress.metadata = decodeMeta(object, "Egress", egress.problems);
  if (!object.is_object()) return egress;
  FieldReader reader("Egress", egress.metadata.name, egress.problems);
  if (const json* spec = reader.object(object, "spec", "spec"))
    egress.spec = decodeSpec(reader, *spec);
  if (const json* status = reader.object(object, "status", "status"))
    egress.status = decodeEgressStatus(*status, egress.metadata.name, egress.problems);
  return egress;
}

json toJson(const EgressStatus& status) {
  json out = json::object();
  if (!status.egressIP.empty()) out["egressIP"] = status.egressIP;
  if (!status.egressNode.empty()) out["egressNode"] = status.egressNode;
  if (status.egressIPs) {
    json list = json::array();
    for (const auto& entry : *status.egressIPs) {
      json item = {{"ip", entry.ip}, {"node", entry.node}};
      if (!entry.pool.empty()) item["pool"] = entry.pool;
      if (!entry.previousNode.empty()) item["previousNode"] = entry.previousNode;
      list.push_back(item);
    }
    out["egressIPs"] = list;
  }
  json conditions = json::array();
  for (const auto& condition : status.conditions) conditions.push_back(toJson(condition));
  out["conditions"] = conditions;
  return out;
}

}  // namespace sluice::api
