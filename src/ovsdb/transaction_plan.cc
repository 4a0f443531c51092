// Pure planning of idempotent OVSDB transactions (see transaction_plan.h).
#include "ovsdb/transaction_plan.h"

#include <algorithm>
#include <set>

namespace sluice::ovsdb {
namespace {

// Linux interface names (IFNAMSIZ - 1); internal ports become tap devices of that name.
constexpr size_t kMaxInterfaceName = 15;
constexpr int64_t kMaxOfportRequest = 65279;
constexpr const char* kNewInterface = "newInterface";
constexpr const char* kNewPort = "newPort";
constexpr const char* kNewBridge = "newBridge";

const std::set<std::string> kKnownProtocols = {"OpenFlow10", "OpenFlow11", "OpenFlow12",
                                               "OpenFlow13", "OpenFlow14", "OpenFlow15"};

Result<void> validateName(const std::string& what, const std::string& name) {
  if (name.empty()) return makeError(what + ": name is empty; give it a name");
  if (name.size() > kMaxInterfaceName) {
    return makeError(what + " " + name + ": name is " + std::to_string(name.size()) +
                     " characters long; Linux allows at most 15, pick a shorter name");
  }
  if (name.find_first_of("/ \t\n:") != std::string::npos) {
    return makeError(what + " " + name + ": name contains '/', ':' or whitespace; pick another");
  }
  return {};
}

std::string portLabel(const PortOptions& port) {
  return "port " + port.name + " on " + port.bridge;
}

std::vector<std::string> sorted(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

Json mutate(const char* table, Json where, Json mutations) {
  return {{"op", "mutate"},
          {"table", table},
          {"where", std::move(where)},
          {"mutations", std::move(mutations)}};
}

Json update(const char* table, Json where, Json row) {
  return {{"op", "update"}, {"table", table}, {"where", std::move(where)}, {"row", std::move(row)}};
}

Json insert(const char* table, Json row, const char* uuidName) {
  return {{"op", "insert"}, {"table", table}, {"row", std::move(row)}, {"uuid-name", uuidName}};
}

Json bridgeColumns(const BridgeOptions& bridge) {
  return {{"datapath_type", toString(bridge.datapathType)},
          {"fail_mode", toString(bridge.failMode)},
          {"protocols", encodeStringSet(sorted(bridge.protocols))}};
}

// The interfaces (other than the port's own) on a bridge, with the name of the port holding each.
std::vector<std::pair<const InterfaceRow*, std::string>> interfacesOnBridge(
    const Snapshot& snapshot, const BridgeRow& bridge, const std::string& exceptPort) {
  std::vector<std::pair<const InterfaceRow*, std::string>> result;
  for (const auto& portUuid : bridge.ports) {
    const PortRow* port = snapshot.findPortByUuid(portUuid);
    if (port == nullptr || port->name == exceptPort) continue;
    for (const auto& interfaceUuid : port->interfaces) {
      if (const InterfaceRow* row = snapshot.findInterfaceByUuid(interfaceUuid)) {
        result.emplace_back(row, port->name);
      }
    }
  }
  return result;
}

Result<void> checkOfportRequest(const Snapshot& snapshot, const BridgeRow& bridge,
                                const PortOptions& port) {
  if (!port.ofportRequest) return {};
  int64_t wanted = *port.ofportRequest;
  for (const auto& [row, portName] : interfacesOnBridge(snapshot, bridge, port.name)) {
    if (row->ofportRequest == wanted) {
      return makeError(portLabel(port) + ": ofport_request " + std::to_string(wanted) +
                       " is taken by port " + portName + "; pick another");
    }
    if (row->ofport == wanted) {
      return makeError(portLabel(port) + ": ofport_request " + std::to_string(wanted) +
                       " is the ofport of port " + portName + "; pick another");
    }
  }
  return {};
}

}  // namespace

Result<void> validateBridge(const BridgeOptions& bridge) {
  if (auto valid = validateName("bridge", bridge.name); !valid) return valid;
  if (bridge.protocols.empty()) {
    return makeError("bridge " + bridge.name + ": protocols is empty; list at least OpenFlow15");
  }
  for (const auto& protocol : bridge.protocols) {
    if (kKnownProtocols.count(protocol) == 0) {
      return makeError("bridge " + bridge.name + ": protocols has unknown version '" + protocol +
                       "'; use OpenFlow10 to OpenFlow15");
    }
  }
  return {};
}

Result<void> validatePort(const PortOptions& port) {
  if (auto valid = validateName("port", port.name); !valid) return valid;
  if (port.bridge.empty())
    return makeError("port " + port.name + ": bridge is empty; name its bridge");
  if (port.ofportRequest && (*port.ofportRequest < 1 || *port.ofportRequest > kMaxOfportRequest)) {
    return makeError(portLabel(port) + ": ofport_request " + std::to_string(*port.ofportRequest) +
                     " is out of range; use 1 to 65279");
  }
  if (port.mtuRequest && (*port.mtuRequest < 68 || *port.mtuRequest > 65535)) {
    return makeError(portLabel(port) + ": mtu_request " + std::to_string(*port.mtuRequest) +
                     " is out of range; use 68 to 65535");
  }
  if (port.type == PortType::kPatch) {
    if (port.patchPeer.empty()) {
      return makeError(portLabel(port) +
                       ": patch port without a peer; set patchPeer to the other "
                       "end's port name");
    }
    if (port.patchPeer == port.name) {
      return makeError(portLabel(port) + ": patchPeer is the port itself; name the other end");
    }
  }
  if (port.type == PortType::kGeneve) {
    if (port.geneve.remoteIp.empty()) {
      return makeError(portLabel(port) + ": geneve remoteIp is empty; use \"flow\" or an IP");
    }
    if (port.geneve.key.empty()) {
      return makeError(portLabel(port) + ": geneve key is empty; use \"flow\" or a VNI");
    }
  }
  return {};
}

StringMap interfaceOptions(const PortOptions& port) {
  StringMap options;
  switch (port.type) {
    case PortType::kGeneve:
      options["remote_ip"] = port.geneve.remoteIp;
      options["key"] = port.geneve.key;
      if (port.geneve.localIp) options["local_ip"] = *port.geneve.localIp;
      if (port.geneve.destinationPort) {
        options["dst_port"] = std::to_string(*port.geneve.destinationPort);
      }
      if (port.geneve.checksum) options["csum"] = "true";
      break;
    case PortType::kPatch: options["peer"] = port.patchPeer; break;
    case PortType::kInternal:
    case PortType::kSystem: break;
  }
  return options;
}

Json mapMergeMutations(const std::string& column, const StringMap& current,
                       const StringMap& desired) {
  Json changedKeys = Json::array();
  Json changedPairs = Json::array();
  for (const auto& [key, value] : desired) {
    auto it = current.find(key);
    if (it != current.end() && it->second == value) continue;
    changedKeys.push_back(key);
    changedPairs.push_back({key, value});
  }
  if (changedPairs.empty()) return Json::array();
  // Map "insert" never overwrites an existing key, so delete the keys first (same operation).
  return Json::array(
      {{column, "delete", {"set", changedKeys}}, {column, "insert", {"map", changedPairs}}});
}

Result<Json> planEnsureBridge(const Snapshot& snapshot, const BridgeOptions& bridge) {
  if (auto valid = validateBridge(bridge); !valid) return valid.error();
  Json operations = Json::array();
  const BridgeRow* current = snapshot.findBridge(bridge.name);
  if (current == nullptr) {
    if (snapshot.findPort(bridge.name) != nullptr ||
        snapshot.findInterface(bridge.name) != nullptr) {
      return makeError("bridge " + bridge.name +
                       ": a port of that name exists on another bridge; "
                       "delete the port or pick another bridge name");
    }
    operations.push_back(
        insert("Interface", {{"name", bridge.name}, {"type", "internal"}}, kNewInterface));
    operations.push_back(insert(
        "Port", {{"name", bridge.name}, {"interfaces", namedUuid(kNewInterface)}}, kNewPort));
    Json row = bridgeColumns(bridge);
    row["name"] = bridge.name;
    row["ports"] = namedUuid(kNewPort);
    row["other_config"] = encodeMap(bridge.otherConfig);
    row["external_ids"] = encodeMap(bridge.externalIds);
    operations.push_back(insert("Bridge", row, kNewBridge));
    operations.push_back(mutate("Open_vSwitch", Json::array(),
                                Json::array({{"bridges", "insert", namedUuid(kNewBridge)}})));
    return operations;
  }

  Json changed = Json::object();
  if (current->datapathType != toString(bridge.datapathType)) {
    changed["datapath_type"] = toString(bridge.datapathType);
  }
  if (current->failMode != std::optional<std::string>(toString(bridge.failMode))) {
    changed["fail_mode"] = toString(bridge.failMode);
  }
  if (current->protocols != sorted(bridge.protocols)) {
    changed["protocols"] = encodeStringSet(sorted(bridge.protocols));
  }
  if (!changed.empty()) operations.push_back(update("Bridge", whereUuid(current->uuid), changed));
  Json mutations = mapMergeMutations("other_config", current->otherConfig, bridge.otherConfig);
  for (auto& mutation :
       mapMergeMutations("external_ids", current->externalIds, bridge.externalIds)) {
    mutations.push_back(std::move(mutation));
  }
  if (!mutations.empty())
    operations.push_back(mutate("Bridge", whereUuid(current->uuid), mutations));
  return operations;
}

Result<Json> planEnsurePort(const Snapshot& snapshot, const PortOptions& port) {
  if (auto valid = validatePort(port); !valid) return valid.error();
  const BridgeRow* bridge = snapshot.findBridge(port.bridge);
  if (bridge == nullptr) {
    return makeError(portLabel(port) + ": bridge " + port.bridge +
                     " does not exist; ensure the "
                     "bridge first");
  }
  if (auto free = checkOfportRequest(snapshot, *bridge, port); !free) return free.error();

  StringMap options = interfaceOptions(port);
  const PortRow* currentPort = snapshot.findPort(port.name);
  const InterfaceRow* currentInterface = snapshot.findInterface(port.name);
  Json operations = Json::array();
  if (currentPort == nullptr) {
    if (currentInterface != nullptr) {
      return makeError(portLabel(port) + ": an interface named " + port.name +
                       " already belongs to "
                       "another port; delete that port first");
    }
    Json row = {{"name", port.name},
                {"type", toString(port.type)},
                {"options", encodeMap(options)},
                {"external_ids", encodeMap(port.externalIds)}};
    if (port.ofportRequest) row["ofport_request"] = *port.ofportRequest;
    if (port.mtuRequest) row["mtu_request"] = *port.mtuRequest;
    operations.push_back(insert("Interface", row, kNewInterface));
    operations.push_back(
        insert("Port", {{"name", port.name}, {"interfaces", namedUuid(kNewInterface)}}, kNewPort));
    operations.push_back(mutate("Bridge", whereUuid(bridge->uuid),
                                Json::array({{"ports", "insert", namedUuid(kNewPort)}})));
    return operations;
  }

  const BridgeRow* holder = snapshot.bridgeOfPort(currentPort->uuid);
  if (holder != nullptr && holder->uuid != bridge->uuid) {
    return makeError(portLabel(port) + ": the port exists on bridge " + holder->name +
                     "; delete it there first (deletePort(" + holder->name + ", " + port.name +
                     "))");
  }
  if (currentInterface == nullptr || currentPort->interfaces.size() != 1 ||
      currentPort->interfaces.front() != currentInterface->uuid) {
    return makeError(portLabel(port) +
                     ": the port exists but does not hold exactly one interface "
                     "named " +
                     port.name + " (a bond?); delete it first");
  }
  Json changed = Json::object();
  if (currentInterface->type != toString(port.type)) changed["type"] = toString(port.type);
  if (currentInterface->options != options) changed["options"] = encodeMap(options);
  if (currentInterface->ofportRequest != port.ofportRequest) {
    changed["ofport_request"] = encodeOptionalInteger(port.ofportRequest);
  }
  if (currentInterface->mtuRequest != port.mtuRequest) {
    changed["mtu_request"] = encodeOptionalInteger(port.mtuRequest);
  }
  if (!changed.empty()) {
    operations.push_back(update("Interface", whereUuid(currentInterface->uuid), changed));
  }
  Json mutations =
      mapMergeMutations("external_ids", currentInterface->externalIds, port.externalIds);
  if (!mutations.empty()) {
    operations.push_back(mutate("Interface", whereUuid(currentInterface->uuid), mutations));
  }
  if (holder == nullptr) {  // unreachable after garbage collection, but cheap to repair
    operations.push_back(mutate("Bridge", whereUuid(bridge->uuid),
                                Json::array({{"ports", "insert", uuidRef(currentPort->uuid)}})));
  }
  return operations;
}

Json planDeletePort(const Snapshot& snapshot, const std::string& bridgeName,
                    const std::string& name) {
  const BridgeRow* bridge = snapshot.findBridge(bridgeName);
  const PortRow* port = snapshot.findPort(name);
  if (bridge == nullptr || port == nullptr) return Json::array();
  if (std::find(bridge->ports.begin(), bridge->ports.end(), port->uuid) == bridge->ports.end()) {
    return Json::array();
  }
  return Json::array({mutate("Bridge", whereUuid(bridge->uuid),
                             Json::array({{"ports", "delete", uuidRef(port->uuid)}}))});
}

Json planDeleteBridge(const Snapshot& snapshot, const std::string& name) {
  const BridgeRow* bridge = snapshot.findBridge(name);
  if (bridge == nullptr) return Json::array();
  return Json::array({mutate("Open_vSwitch", Json::array(),
                             Json::array({{"bridges", "delete", uuidRef(bridge->uuid)}}))});
}

Json planMapEntry(const RecordRef& record, MapColumn column, const std::string& key,
                  const std::optional<std::string>& current,
                  const std::optional<std::string>& desired) {
  if (current == desired) return Json::array();
  const char* columnText = columnName(column);
  Json mutations = Json::array({{columnText, "delete", {"set", Json::array({key})}}});
  if (desired) mutations.push_back({columnText, "insert", {"map", Json::array({{key, *desired}})}});
  Json operation = {{"op", "mutate"},
                    {"table", record.table},
                    {"where", whereRecord(record)},
                    {"mutations", mutations}};
  return Json::array({operation});
}

}  // namespace sluice::ovsdb
