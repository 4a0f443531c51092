// Service and EndpointSlice decoding (service.h).
#include "api/service.h"

#include <algorithm>
#include <cctype>

namespace sluice::api {
namespace {

using nlohmann::json;

std::string indexed(const std::string& field, std::size_t index) {
  return field + "[" + std::to_string(index) + "]";
}

// A boolean field: absent or null is nullopt, another type is a problem (and reads as absent).
std::optional<bool> boolean(FieldReader& reader, const json& parent, const char* key,
                            const std::string& field) {
  if (!parent.is_object() || !parent.contains(key) || parent[key].is_null()) return std::nullopt;
  if (!parent[key].is_boolean()) {
    reader.wrongType(field, "a boolean", parent[key]);
    return std::nullopt;
  }
  return parent[key].get<bool>();
}

// A protocol field (absent: TCP). Unknown: a problem naming the field, nullopt.
std::optional<Protocol> protocolField(FieldReader& reader, const json& parent,
                                      const std::string& field) {
  const auto text = reader.string(parent, "protocol", field);
  if (!text) return Protocol::kTcp;
  if (auto protocol = parseProtocol(*text)) return protocol;
  reader.invalid(field, field + ": protocol \"" + *text +
                            "\" is unknown; use TCP, UDP or SCTP (this port is ignored)");
  return std::nullopt;
}

// A port number field: nullopt when absent; out of 1..65535 is a problem.
std::optional<std::uint16_t> portField(FieldReader& reader, const json& parent, const char* key,
                                       const std::string& field, bool& bad) {
  const auto value = reader.integer(parent, key, field);
  if (!value) return std::nullopt;
  if (*value < 1 || *value > 65535) {
    reader.invalid(field, field + ": " + std::to_string(*value) +
                              " is not a port; use a number from 1 to 65535");
    bad = true;
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(*value);
}

std::optional<ServicePortSpec> decodeServicePort(FieldReader& reader, const json& entry,
                                                 const std::string& field) {
  if (!entry.is_object()) {
    reader.wrongType(field, "an object", entry);
    return std::nullopt;
  }
  ServicePortSpec port;
  port.name = reader.string(entry, "name", field + ".name").value_or("");
  const auto protocol = protocolField(reader, entry, field + ".protocol");
  if (!protocol) return std::nullopt;
  port.protocol = *protocol;
  bool bad = false;
  const auto number = portField(reader, entry, "port", field + ".port", bad);
  if (!number) {
    if (!bad)
      reader.invalid(field + ".port",
                     field + ".port is missing; set the port the Service listens on");
    return std::nullopt;
  }
  port.port = *number;
  port.targetPort = port.port;
  if (entry.contains("targetPort") && entry["targetPort"].is_string()) {
    const auto text = entry["targetPort"].get<std::string>();
    // An IntOrString: a numeric string is a number, anything else names a container port.
    if (!text.empty() && std::all_of(text.begin(), text.end(),
                                     [](unsigned char c) { return std::isdigit(c) != 0; })) {
      const auto value = std::stol(text.substr(0, 6));
      if (value >= 1 && value <= 65535) port.targetPort = static_cast<std::uint16_t>(value);
    } else if (!text.empty()) {
      port.targetPort = 0;
      port.targetPortName = text;
    }
  } else if (auto target = portField(reader, entry, "targetPort", field + ".targetPort", bad)) {
    port.targetPort = *target;
  }
  port.nodePort = portField(reader, entry, "nodePort", field + ".nodePort", bad).value_or(0);
  return port;
}

ServiceSpec decodeServiceSpec(FieldReader& reader, const json& spec) {
  ServiceSpec decoded;
  decoded.type = reader.string(spec, "type", "spec.type").value_or("ClusterIP");
  decoded.clusterIP = reader.string(spec, "clusterIP", "spec.clusterIP").value_or("");
  decoded.clusterIPs =
      reader.strings(spec, "clusterIPs", "spec.clusterIPs").value_or(std::vector<std::string>{});
  if (!decoded.clusterIP.empty() && decoded.clusterIP != "None" && !parseIpv4(decoded.clusterIP) &&
      decoded.clusterIP.find(':') == std::string::npos)
    reader.invalid("spec.clusterIP", "spec.clusterIP: \"" + decoded.clusterIP +
                                         "\" is not an IP address; use an address of the "
                                         "Service CIDR, \"None\" (headless), or leave it unset");
  if (const json* ports = reader.array(spec, "ports", "spec.ports"))
    for (std::size_t i = 0; i < ports->size(); ++i)
      if (auto port = decodeServicePort(reader, (*ports)[i], indexed("spec.ports", i)))
        decoded.ports.push_back(*port);
  decoded.selector = reader.stringMap(spec, "selector");
  decoded.clientIpAffinity =
      reader.string(spec, "sessionAffinity", "spec.sessionAffinity").value_or("") == "ClientIP";
  if (const json* config =
          reader.object(spec, "sessionAffinityConfig", "spec.sessionAffinityConfig"))
    if (const json* clientIp =
            reader.object(*config, "clientIP", "spec.sessionAffinityConfig.clientIP")) {
      const std::string field = "spec.sessionAffinityConfig.clientIP.timeoutSeconds";
      if (const auto timeout = reader.integer(*clientIp, "timeoutSeconds", field)) {
        if (*timeout < 1 || *timeout > 86400)
          reader.invalid(field, field + ": " + std::to_string(*timeout) +
                                    " is out of range; use 1 to 86400 seconds (the default " +
                                    std::to_string(kDefaultAffinityTimeoutSeconds) + " is used)");
        else
          decoded.affinityTimeoutSeconds = static_cast<std::uint32_t>(*timeout);
      }
    }
  decoded.internalLocal =
      reader.string(spec, "internalTrafficPolicy", "spec.internalTrafficPolicy").value_or("") ==
      "Local";
  decoded.externalLocal =
      reader.string(spec, "externalTrafficPolicy", "spec.externalTrafficPolicy").value_or("") ==
      "Local";
  return decoded;
}

std::optional<Endpoint> decodeEndpoint(FieldReader& reader, const json& entry,
                                       const std::string& field, bool ipv4) {
  if (!entry.is_object()) {
    reader.wrongType(field, "an object", entry);
    return std::nullopt;
  }
  Endpoint endpoint;
  const auto addresses = reader.strings(entry, "addresses", field + ".addresses");
  if (!addresses || addresses->empty()) {
    reader.invalid(field + ".addresses", field +
                                             ".addresses is empty; an endpoint needs an address "
                                             "(this endpoint is ignored)");
    return std::nullopt;
  }
  if (ipv4)
    for (std::size_t i = 0; i < addresses->size(); ++i) {
      const auto address = parseIpv4((*addresses)[i]);
      if (!address) {
        const auto addressField = indexed(field + ".addresses", i);
        reader.invalid(addressField, addressField + ": \"" + (*addresses)[i] +
                                         "\" is not an IPv4 address such as 10.244.1.5 in an "
                                         "IPv4 EndpointSlice; fix the address (this endpoint "
                                         "is ignored)");
        return std::nullopt;
      }
      endpoint.addresses.push_back(*address);
    }
  if (const json* conditions = reader.object(entry, "conditions", field + ".conditions")) {
    const auto ready = boolean(reader, *conditions, "ready", field + ".conditions.ready");
    const auto serving = boolean(reader, *conditions, "serving", field + ".conditions.serving");
    const auto terminating =
        boolean(reader, *conditions, "terminating", field + ".conditions.terminating");
    endpoint.conditions.ready = ready.value_or(true);
    endpoint.conditions.serving = serving.value_or(endpoint.conditions.ready);
    endpoint.conditions.terminating = terminating.value_or(false);
  }
  endpoint.nodeName = reader.string(entry, "nodeName", field + ".nodeName").value_or("");
  return endpoint;
}

std::optional<EndpointPort> decodeEndpointPort(FieldReader& reader, const json& entry,
                                               const std::string& field) {
  if (!entry.is_object()) {
    reader.wrongType(field, "an object", entry);
    return std::nullopt;
  }
  EndpointPort port;
  port.name = reader.string(entry, "name", field + ".name").value_or("");
  const auto protocol = protocolField(reader, entry, field + ".protocol");
  if (!protocol) return std::nullopt;
  port.protocol = *protocol;
  bool bad = false;
  port.port = portField(reader, entry, "port", field + ".port", bad);
  if (bad) return std::nullopt;
  return port;
}

}  // namespace

std::optional<Protocol> parseProtocol(std::string_view text) {
  if (text == "TCP") return Protocol::kTcp;
  if (text == "UDP") return Protocol::kUdp;
  if (text == "SCTP") return Protocol::kSctp;
  return std::nullopt;
}

std::string_view protocolText(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTcp: return "TCP";
    case Protocol::kUdp: return "UDP";
    case Protocol::kSctp: return "SCTP";
  }
  return "TCP";
}

std::optional<Ipv4> Service::clusterIp() const {
  if (spec.type == "ExternalName" || spec.clusterIP == "None") return std::nullopt;
  if (auto address = parseIpv4(spec.clusterIP)) return address;
  for (const auto& text : spec.clusterIPs)
    if (auto address = parseIpv4(text)) return address;
  return std::nullopt;
}

Service Service::decode(const json& object) {
  Service service;
  service.metadata = decodeMeta(object, "Service", service.problems);
  if (!object.is_object()) return service;
  FieldReader reader("Service", service.namespacedName(), service.problems);
  if (const json* spec = reader.object(object, "spec", "spec"))
    service.spec = decodeServiceSpec(reader, *spec);
  return service;
}

EndpointSlice EndpointSlice::decode(const json& object) {
  EndpointSlice slice;
  slice.metadata = decodeMeta(object, "EndpointSlice", slice.problems);
  if (!object.is_object()) return slice;
  FieldReader reader("EndpointSlice", slice.metadata.namespaceName + "/" + slice.metadata.name,
                     slice.problems);
  if (const auto label = slice.metadata.labels.find(kServiceNameLabel);
      label != slice.metadata.labels.end())
    slice.serviceName = label->second;
  if (slice.serviceName.empty())
    reader.invalid(std::string("metadata.labels[") + kServiceNameLabel + "]",
                   std::string("metadata.labels: the label ") + kServiceNameLabel +
                       " is missing; label the slice with the name of its Service (the slice "
                       "is ignored)");
  slice.addressType = reader.string(object, "addressType", "addressType").value_or("");
  const bool ipv4 = slice.addressType == "IPv4";
  if (const json* endpoints = reader.array(object, "endpoints", "endpoints"))
    for (std::size_t i = 0; i < endpoints->size(); ++i)
      if (auto endpoint = decodeEndpoint(reader, (*endpoints)[i], indexed("endpoints", i), ipv4))
        if (ipv4) slice.endpoints.push_back(*endpoint);
  if (const json* ports = reader.array(object, "ports", "ports"))
    for (std::size_t i = 0; i < ports->size(); ++i)
      if (auto port = decodeEndpointPort(reader, (*ports)[i], indexed("ports", i)))
        slice.ports.push_back(*port);
  return slice;
}

}  // namespace sluice::api
