// OvsdbClient: idempotent ensure operations over RFC 7047 (see ovsdb_client.h).
#include "ovsdb/ovsdb_client.h"

#include <algorithm>

#include "common/log.h"
#include "ovsdb/transaction_plan.h"

namespace sluice::ovsdb {
namespace {

constexpr auto kWaitMargin = std::chrono::seconds(5);

std::string recordLabel(const RecordRef& record) {
  if (record.table == kDatabase) return "Open_vSwitch";
  return record.table + " " + record.name;
}

}  // namespace

Result<std::unique_ptr<OvsdbClient>> OvsdbClient::connect(const std::string& remote,
                                                          const OvsdbClientOptions& options) {
  auto transport = UnixSocketTransport::open(remote);
  if (!transport) return transport.error();
  return std::make_unique<OvsdbClient>(std::move(transport).value(), options);
}

OvsdbClient::OvsdbClient(std::unique_ptr<Transport> transport, const OvsdbClientOptions& options)
    : transport_(std::move(transport)), options_(options) {}

Result<Json> OvsdbClient::transact(const Json& operations, const std::string& what,
                                   std::optional<std::chrono::milliseconds> timeout) {
  bool readOnly = std::all_of(operations.begin(), operations.end(), [](const Json& operation) {
    std::string op = operation.value("op", "");
    return op == "select" || op == "wait" || op == "comment";
  });
  auto reply = transport_->call("transact", transactParams(operations),
                                timeout.value_or(options_.callTimeout));
  // A read can simply be repeated on a new connection (ovsdb-server restarted, say).
  if (!reply && readOnly && !transport_->connected()) {
    reply = transport_->call("transact", transactParams(operations),
                             timeout.value_or(options_.callTimeout));
  }
  if (!reply) return makeError(what + ": " + reply.error().message);
  return checkTransactReply(operations, *reply, what);
}

Result<Snapshot> OvsdbClient::readSnapshot() {
  return readRows(snapshotQuery(), "reading the Open_vSwitch database");
}

Result<Snapshot> OvsdbClient::readRows(const Json& query, const std::string& what) {
  auto reply = transact(query, what);
  if (!reply) return reply.error();
  return parseSelected(query, *reply);
}

Result<Snapshot> OvsdbClient::readForPort(const PortOptions& port) {
  std::string what = "reading port " + port.name + " on " + port.bridge;
  auto snapshot = readRows(portQuery(port), what);
  if (!snapshot) return snapshot;
  Json followUp = portFollowUpQuery(*snapshot, port);
  if (followUp.empty()) return snapshot;
  auto more = readRows(followUp, what);
  if (!more) return more;
  mergeSnapshot(*snapshot, *more);
  return snapshot;
}

Result<Changed> OvsdbClient::sendPlan(const Json& operations, const std::string& what) {
  if (operations.empty()) return Changed::kNo;
  Json withComment = operations;
  // Shows up in ovsdb-server's log and `ovsdb-tool show-log`: who changed what.
  withComment.push_back({{"op", "comment"}, {"comment", "sluice: " + what}});
  ++mutatingTransactions_;
  auto reply = transact(withComment, what);
  if (!reply) return reply.error();
  return Changed::kYes;
}

template <typename Planner>
Result<Changed> OvsdbClient::applyPlan(const std::string& what, Planner planner) {
  Error lastError;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<Json> operations = planner();
    if (!operations) return operations.error();  // reads already retried; user errors cannot be
    auto sent = sendPlan(*operations, what);
    if (sent) return sent;
    lastError = sent.error();
    SLUICE_LOG(kWarning, "ovsdb") << lastError.message << (attempt == 0 ? "; retrying" : "");
  }
  return lastError;
}

Result<Changed> OvsdbClient::ensureBridge(const BridgeOptions& bridge) {
  return applyPlan("ensure bridge " + bridge.name, [&]() -> Result<Json> {
    auto snapshot = readRows(bridgeQuery(bridge.name), "reading bridge " + bridge.name);
    if (!snapshot) return snapshot.error();
    return planEnsureBridge(*snapshot, bridge);
  });
}

Result<Changed> OvsdbClient::ensurePort(const PortOptions& port) {
  if (auto valid = validatePort(port); !valid) return valid.error();
  return applyPlan("ensure port " + port.name + " on " + port.bridge, [&]() -> Result<Json> {
    auto snapshot = readForPort(port);
    if (!snapshot) return snapshot.error();
    return planEnsurePort(*snapshot, port);
  });
}

Result<Changed> OvsdbClient::deletePort(const std::string& bridge, const std::string& name) {
  return applyPlan("delete port " + name + " from " + bridge, [&]() -> Result<Json> {
    PortOptions port{.bridge = bridge, .name = name};
    auto snapshot = readRows(portQuery(port), "reading port " + name + " on " + bridge);
    if (!snapshot) return snapshot.error();
    return planDeletePort(*snapshot, bridge, name);
  });
}

Result<Changed> OvsdbClient::deleteBridge(const std::string& name) {
  return applyPlan("delete bridge " + name, [&]() -> Result<Json> {
    auto snapshot = readRows(bridgeQuery(name), "reading bridge " + name);
    if (!snapshot) return snapshot.error();
    return planDeleteBridge(*snapshot, name);
  });
}

Result<std::optional<int64_t>> OvsdbClient::getOfport(const std::string& interfaceName) {
  Json operations = Json::array({{{"op", "select"},
                                  {"table", "Interface"},
                                  {"where", whereName(interfaceName)},
                                  {"columns", {"ofport"}}}});
  auto reply = transact(operations, "reading the ofport of interface " + interfaceName);
  if (!reply) return reply.error();
  try {
    const auto& rows = (*reply)[0].at("rows");
    if (rows.empty()) {
      return makeError("interface " + interfaceName +
                       " does not exist in OVSDB; add its port first "
                       "(ensurePort)");
    }
    return decodeOptionalInteger(rows[0].at("ofport"));
  } catch (const Json::exception& error) {
    return makeError("interface " + interfaceName + ": unexpected OVSDB reply: " + error.what());
  }
}

Result<int64_t> OvsdbClient::waitForOfport(const std::string& interfaceName,
                                           std::chrono::milliseconds timeout) {
  auto current = getOfport(interfaceName);
  if (!current) return current.error();
  if (!current->has_value()) {
    Json operations = Json::array({{{"op", "wait"},
                                    {"table", "Interface"},
                                    {"where", whereName(interfaceName)},
                                    {"columns", {"ofport"}},
                                    {"until", "!="},
                                    {"rows", Json::array({{{"ofport", {"set", Json::array()}}}})},
                                    {"timeout", timeout.count()}}});
    auto waited = transact(operations, "waiting for the ofport of interface " + interfaceName,
                           timeout + kWaitMargin);
    if (!waited) {
      return makeError(waited.error().message + "; ovs-vswitchd assigned no ofport within " +
                       std::to_string(timeout.count()) +
                       " ms: check that it runs and that the "
                       "bridge's datapath_type is available");
    }
    current = getOfport(interfaceName);
    if (!current) return current.error();
    if (!current->has_value()) {
      return makeError("interface " + interfaceName + " vanished while waiting for its ofport");
    }
  }
  if (**current > 0) return **current;
  // ofport -1: ovs-vswitchd tried and failed; its reason is in the error column.
  Json operations = Json::array({{{"op", "select"},
                                  {"table", "Interface"},
                                  {"where", whereName(interfaceName)},
                                  {"columns", {"error"}}}});
  std::string reason = "no reason given";
  if (auto reply = transact(operations, "reading interface " + interfaceName)) {
    try {
      reason = decodeOptionalString((*reply)[0].at("rows").at(0).at("error")).value_or(reason);
    } catch (const Json::exception&) {
    }
  }
  return makeError("interface " + interfaceName + ": ovs-vswitchd could not create it (" + reason +
                   "); check the port's type and options");
}

Result<void> OvsdbClient::waitForVswitchd(std::chrono::milliseconds timeout) {
  Json bump = Json::array({{{"op", "mutate"},
                            {"table", "Open_vSwitch"},
                            {"where", Json::array()},
                            {"mutations", Json::array({{"next_cfg", "+=", 1}})}},
                           {{"op", "select"},
                            {"table", "Open_vSwitch"},
                            {"where", Json::array()},
                            {"columns", {"next_cfg"}}}});
  ++mutatingTransactions_;
  auto bumped = transact(bump, "asking ovs-vswitchd to confirm its configuration");
  if (!bumped) return bumped.error();
  int64_t target = 0;
  try {
    target = (*bumped)[1].at("rows").at(0).at("next_cfg").get<int64_t>();
  } catch (const Json::exception& error) {
    return makeError(std::string("OVSDB: unexpected reply reading next_cfg: ") + error.what());
  }
  Json wait = Json::array({{{"op", "wait"},
                            {"table", "Open_vSwitch"},
                            {"where", Json::array()},
                            {"columns", {"cur_cfg"}},
                            {"until", "=="},
                            {"rows", Json::array({{{"cur_cfg", target}}})},
                            {"timeout", timeout.count()}}});
  auto waited =
      transact(wait, "waiting for ovs-vswitchd to apply configuration " + std::to_string(target),
               timeout + kWaitMargin);
  if (!waited) {
    return makeError(waited.error().message + "; ovs-vswitchd did not catch up within " +
                     std::to_string(timeout.count()) +
                     " ms: is it running and connected to this "
                     "database?");
  }
  return {};
}

Result<std::optional<std::string>> OvsdbClient::getMapEntry(const RecordRef& record,
                                                            MapColumn column,
                                                            const std::string& key) {
  Json operations = Json::array({{{"op", "select"},
                                  {"table", record.table},
                                  {"where", whereRecord(record)},
                                  {"columns", {columnName(column)}}}});
  std::string what = "reading " + recordLabel(record) + " " + columnName(column) + ":" + key;
  auto reply = transact(operations, what);
  if (!reply) return reply.error();
  try {
    const auto& rows = (*reply)[0].at("rows");
    if (rows.size() != 1) {
      return makeError(what + ": " + recordLabel(record) + " does not exist; create it first");
    }
    StringMap map = decodeMap(rows[0].at(columnName(column)));
    auto it = map.find(key);
    if (it == map.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  } catch (const Json::exception& error) {
    return makeError(what + ": unexpected OVSDB reply: " + error.what());
  }
}

Result<Changed> OvsdbClient::setMapEntry(const RecordRef& record, MapColumn column,
                                         const std::string& key, const std::string& value) {
  return applyPlan("set " + recordLabel(record) + " " + columnName(column) + ":" + key,
                   [&]() -> Result<Json> {
                     auto current = getMapEntry(record, column, key);
                     if (!current) return current.error();
                     return planMapEntry(record, column, key, *current, value);
                   });
}

Result<Changed> OvsdbClient::removeMapEntry(const RecordRef& record, MapColumn column,
                                            const std::string& key) {
  return applyPlan("remove " + recordLabel(record) + " " + columnName(column) + ":" + key,
                   [&]() -> Result<Json> {
                     auto current = getMapEntry(record, column, key);
                     if (!current) return current.error();
                     return planMapEntry(record, column, key, *current, std::nullopt);
                   });
}

}  // namespace sluice::ovsdb
