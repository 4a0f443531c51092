// RFC 7047 value encoding and snapshot parsing (see ovsdb_json.h).
#include "ovsdb/ovsdb_json.h"

#include <algorithm>

namespace sluice::ovsdb {
namespace {

const Json kInterfaceColumns = {"_uuid",       "name",         "type",
                                "options",     "ofport",       "ofport_request",
                                "mtu_request", "external_ids", "error"};
const Json kPortColumns = {"_uuid", "name", "interfaces", "external_ids"};
const Json kBridgeColumns = {"_uuid",     "name",      "ports",        "datapath_type",
                             "fail_mode", "protocols", "other_config", "external_ids"};
const Json kRootColumns = {"_uuid",        "bridges",  "external_ids",
                           "other_config", "next_cfg", "cur_cfg"};

Json select(const char* table, const Json& columns) {
  return {{"op", "select"}, {"table", table}, {"where", Json::array()}, {"columns", columns}};
}

template <typename Row>
const Row* findByName(const std::vector<Row>& rows, const std::string& name) {
  auto it =
      std::find_if(rows.begin(), rows.end(), [&](const Row& row) { return row.name == name; });
  return it == rows.end() ? nullptr : &*it;
}

template <typename Row>
const Row* findByUuid(const std::vector<Row>& rows, const std::string& uuid) {
  auto it =
      std::find_if(rows.begin(), rows.end(), [&](const Row& row) { return row.uuid == uuid; });
  return it == rows.end() ? nullptr : &*it;
}

}  // namespace

const BridgeRow* Snapshot::findBridge(const std::string& name) const {
  return findByName(bridges, name);
}
const PortRow* Snapshot::findPort(const std::string& name) const { return findByName(ports, name); }
const InterfaceRow* Snapshot::findInterface(const std::string& name) const {
  return findByName(interfaces, name);
}
const InterfaceRow* Snapshot::findInterfaceByUuid(const std::string& uuid) const {
  return findByUuid(interfaces, uuid);
}
const PortRow* Snapshot::findPortByUuid(const std::string& uuid) const {
  return findByUuid(ports, uuid);
}
const BridgeRow* Snapshot::bridgeOfPort(const std::string& portUuid) const {
  for (const auto& bridge : bridges) {
    if (std::find(bridge.ports.begin(), bridge.ports.end(), portUuid) != bridge.ports.end()) {
      return &bridge;
    }
  }
  return nullptr;
}

const char* toString(DatapathType type) {
  return type == DatapathType::kNetdev ? "netdev" : "system";
}
const char* toString(FailMode mode) { return mode == FailMode::kSecure ? "secure" : "standalone"; }
const char* toString(PortType type) {
  switch (type) {
    case PortType::kInternal: return "internal";
    case PortType::kGeneve: return "geneve";
    case PortType::kPatch: return "patch";
    case PortType::kSystem: return "";
  }
  return "";
}
const char* columnName(MapColumn column) {
  return column == MapColumn::kExternalIds ? "external_ids" : "other_config";
}

Json encodeMap(const StringMap& map) {
  Json pairs = Json::array();
  for (const auto& [key, value] : map) pairs.push_back({key, value});
  return {"map", pairs};
}

Json encodeStringSet(const std::vector<std::string>& values) { return {"set", Json(values)}; }

Json encodeOptionalInteger(const std::optional<int64_t>& value) {
  if (value) return *value;
  return {"set", Json::array()};
}

Json uuidRef(const std::string& uuid) { return {"uuid", uuid}; }
Json namedUuid(const std::string& name) { return {"named-uuid", name}; }
Json whereUuid(const std::string& uuid) { return Json::array({{"_uuid", "==", uuidRef(uuid)}}); }
Json whereName(const std::string& name) { return Json::array({{"name", "==", name}}); }
Json whereRecord(const RecordRef& record) {
  if (record.table == kDatabase) return Json::array();
  return whereName(record.name);
}

std::vector<Json> decodeSet(const Json& value) {
  // A set is ["set", [atoms]] or, with one element, the bare atom (which may be ["uuid", ...]).
  if (value.is_array() && value.size() == 2 && value[0] == "set") {
    return value[1].get<std::vector<Json>>();
  }
  return {value};
}

std::vector<std::string> decodeStringSet(const Json& value) {
  std::vector<std::string> result;
  for (const auto& atom : decodeSet(value)) result.push_back(atom.get<std::string>());
  std::sort(result.begin(), result.end());
  return result;
}

std::vector<std::string> decodeUuidSet(const Json& value) {
  std::vector<std::string> result;
  for (const auto& atom : decodeSet(value)) result.push_back(decodeUuid(atom));
  return result;
}

StringMap decodeMap(const Json& value) {
  StringMap result;
  if (!value.is_array() || value.size() != 2 || value[0] != "map") {
    throw Json::type_error::create(302, "expected an OVSDB map", &value);
  }
  for (const auto& pair : value[1])
    result[pair.at(0).get<std::string>()] = pair.at(1).get<std::string>();
  return result;
}

std::optional<int64_t> decodeOptionalInteger(const Json& value) {
  auto atoms = decodeSet(value);
  if (atoms.empty()) return std::nullopt;
  return atoms.front().get<int64_t>();
}

std::optional<std::string> decodeOptionalString(const Json& value) {
  auto atoms = decodeSet(value);
  if (atoms.empty()) return std::nullopt;
  return atoms.front().get<std::string>();
}

std::string decodeUuid(const Json& value) {
  if (!value.is_array() || value.size() != 2 || value[0] != "uuid") {
    throw Json::type_error::create(302, "expected an OVSDB uuid", &value);
  }
  return value[1].get<std::string>();
}

Json snapshotQuery() {
  return Json::array({select("Open_vSwitch", kRootColumns), select("Bridge", kBridgeColumns),
                      select("Port", kPortColumns), select("Interface", kInterfaceColumns)});
}

namespace {

Json selectWhere(const char* table, const Json& columns, Json where) {
  Json operation = select(table, columns);
  operation["where"] = std::move(where);
  return operation;
}

// Adds a row unless one with the same UUID is there (several selects may return it).
template <typename Row>
void addRow(std::vector<Row>& rows, Row row) {
  if (findByUuid(rows, row.uuid) == nullptr) rows.push_back(std::move(row));
}

void addRows(Snapshot& snapshot, const std::string& table, const Json& rows) {
  for (const auto& row : rows) {
    if (table == "Open_vSwitch") {
      snapshot.root = OpenVswitchRow{
          .uuid = decodeUuid(row.at("_uuid")),
          .bridges = decodeUuidSet(row.at("bridges")),
          .externalIds = decodeMap(row.at("external_ids")),
          .otherConfig = decodeMap(row.at("other_config")),
          .nextCfg = row.at("next_cfg").get<int64_t>(),
          .curCfg = row.at("cur_cfg").get<int64_t>(),
      };
    } else if (table == "Bridge") {
      addRow(snapshot.bridges, BridgeRow{
                                   .uuid = decodeUuid(row.at("_uuid")),
                                   .name = row.at("name").get<std::string>(),
                                   .ports = decodeUuidSet(row.at("ports")),
                                   .datapathType = row.at("datapath_type").get<std::string>(),
                                   .failMode = decodeOptionalString(row.at("fail_mode")),
                                   .protocols = decodeStringSet(row.at("protocols")),
                                   .otherConfig = decodeMap(row.at("other_config")),
                                   .externalIds = decodeMap(row.at("external_ids")),
                               });
    } else if (table == "Port") {
      addRow(snapshot.ports, PortRow{
                                 .uuid = decodeUuid(row.at("_uuid")),
                                 .name = row.at("name").get<std::string>(),
                                 .interfaces = decodeUuidSet(row.at("interfaces")),
                                 .externalIds = decodeMap(row.at("external_ids")),
                             });
    } else if (table == "Interface") {
      addRow(snapshot.interfaces,
             InterfaceRow{
                 .uuid = decodeUuid(row.at("_uuid")),
                 .name = row.at("name").get<std::string>(),
                 .type = row.at("type").get<std::string>(),
                 .options = decodeMap(row.at("options")),
                 .ofport = decodeOptionalInteger(row.at("ofport")),
                 .ofportRequest = decodeOptionalInteger(row.at("ofport_request")),
                 .mtuRequest = decodeOptionalInteger(row.at("mtu_request")),
                 .externalIds = decodeMap(row.at("external_ids")),
                 .error = decodeOptionalString(row.at("error")),
             });
    }
  }
}

}  // namespace

Json bridgeQuery(const std::string& bridge) {
  return Json::array({selectWhere("Bridge", kBridgeColumns, whereName(bridge)),
                      selectWhere("Port", kPortColumns, whereName(bridge)),
                      selectWhere("Interface", kInterfaceColumns, whereName(bridge))});
}

Json portQuery(const PortOptions& port) {
  Json query = Json::array({selectWhere("Bridge", kBridgeColumns, whereName(port.bridge)),
                            selectWhere("Port", kPortColumns, whereName(port.name)),
                            selectWhere("Interface", kInterfaceColumns, whereName(port.name))});
  if (port.ofportRequest) {
    // Interfaces that could collide with the request; their ports come in portFollowUpQuery().
    query.push_back(selectWhere("Interface", kInterfaceColumns,
                                Json::array({{"ofport_request", "==", *port.ofportRequest}})));
    query.push_back(selectWhere("Interface", kInterfaceColumns,
                                Json::array({{"ofport", "==", *port.ofportRequest}})));
  }
  return query;
}

Json portFollowUpQuery(const Snapshot& snapshot, const PortOptions& port) {
  Json query = Json::array();
  if (const PortRow* existing = snapshot.findPort(port.name)) {
    // The bridge holding the port, which may not be the one asked for.
    query.push_back(selectWhere("Bridge", kBridgeColumns,
                                Json::array({{"ports", "includes", uuidRef(existing->uuid)}})));
  }
  for (const auto& row : snapshot.interfaces) {
    if (row.name == port.name) continue;
    query.push_back(selectWhere("Port", kPortColumns,
                                Json::array({{"interfaces", "includes", uuidRef(row.uuid)}})));
  }
  return query;
}

Result<Snapshot> parseSelected(const Json& query, const Json& results) {
  try {
    Snapshot snapshot;
    for (size_t i = 0; i < query.size(); ++i) {
      std::string table = query[i].at("table").get<std::string>();
      const auto& rows = results.at(i).at("rows");
      if (table == "Open_vSwitch" && rows.size() != 1) {
        return makeError("OVSDB: the Open_vSwitch table has " + std::to_string(rows.size()) +
                         " rows instead of 1; initialise the database (ovs-vsctl --no-wait init)");
      }
      addRows(snapshot, table, rows);
    }
    return snapshot;
  } catch (const Json::exception& error) {
    return makeError(std::string("OVSDB: unexpected reply to a read: ") + error.what());
  }
}

void mergeSnapshot(Snapshot& into, const Snapshot& from) {
  for (const auto& row : from.bridges) addRow(into.bridges, row);
  for (const auto& row : from.ports) addRow(into.ports, row);
  for (const auto& row : from.interfaces) addRow(into.interfaces, row);
}

Result<Snapshot> parseSnapshot(const Json& results) {
  return parseSelected(snapshotQuery(), results);
}

Json transactParams(const Json& operations) {
  Json params = Json::array({kDatabase});
  for (const auto& operation : operations) params.push_back(operation);
  return params;
}

Result<Json> checkTransactReply(const Json& operations, const Json& reply,
                                const std::string& what) {
  if (!reply.is_array())
    return makeError(what + ": OVSDB replied with a non-array: " + reply.dump());
  for (size_t i = 0; i < reply.size(); ++i) {
    const auto& result = reply[i];
    if (!result.is_object() || !result.contains("error")) continue;
    std::string message = what + ": OVSDB " + result["error"].get<std::string>();
    if (result.contains("details") && result["details"].is_string()) {
      message += " (" + result["details"].get<std::string>() + ")";
    }
    if (i < operations.size()) {
      message += " in operation " + operations[i].value("op", std::string("?")) + " on " +
                 operations[i].value("table", std::string("-"));
    } else {
      message += " at commit";
    }
    return makeError(message);
  }
  if (reply.size() < operations.size()) {
    return makeError(what + ": OVSDB returned " + std::to_string(reply.size()) + " results for " +
                     std::to_string(operations.size()) + " operations");
  }
  return reply;
}

}  // namespace sluice::ovsdb
