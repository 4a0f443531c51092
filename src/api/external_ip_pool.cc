// ExternalIPPool decoding.
#include "api/external_ip_pool.h"

namespace sluice::api {
namespace {

using nlohmann::json;

ExternalIpPoolSpec decodeSpec(FieldReader& reader, const json& spec) {
  ExternalIpPoolSpec decoded;
  // Anything but a list reads as no ranges, which the controller reports as empty.
  auto ranges = spec.find("ipRanges");
  if (ranges != spec.end() && ranges->is_array()) {
    for (std::size_t i = 0; i < ranges->size(); ++i) {
      const auto& entry = (*ranges)[i];
      const std::string field = "spec.ipRanges[" + std::to_string(i) + "]";
      if (!entry.is_object()) {
        decoded.ipRanges.emplace_back(std::nullopt);
        continue;
      }
      decoded.ipRanges.emplace_back(
          IpRangeSpec{reader.string(entry, "cidr", field + ".cidr").value_or(""),
                      reader.string(entry, "start", field + ".start").value_or(""),
                      reader.string(entry, "end", field + ".end").value_or("")});
    }
  }
  decoded.hasNodeSelector = spec.contains("nodeSelector") && !spec["nodeSelector"].is_null();
  decoded.nodeSelector = reader.selector(spec, "nodeSelector", "spec.nodeSelector");
  return decoded;
}

ExternalIpPoolStatus decodeStatus(FieldReader& reader, const json& status) {
  ExternalIpPoolStatus decoded;
  if (const json* usage = reader.object(status, "usage", "status.usage")) {
    decoded.total = reader.integer(*usage, "total", "status.usage.total");
    decoded.used = reader.integer(*usage, "used", "status.usage.used");
  }
  decoded.conditions = decodeConditions(reader, status);
  return decoded;
}

}  // namespace

ExternalIpPool ExternalIpPool::decode(const json& object) {
  ExternalIpPool pool;
  pool.metadata = decodeMeta(object, "ExternalIPPool", pool.problems);
  if (!object.is_object()) return pool;
  FieldReader reader("ExternalIPPool", pool.metadata.name, pool.problems);
  if (const json* spec = reader.object(object, "spec", "spec"))
    pool.spec = decodeSpec(reader, *spec);
  if (const json* status = reader.object(object, "status", "status"))
    pool.status = decodeStatus(reader, *status);
  return pool;
}

}  // namespace sluice::api
