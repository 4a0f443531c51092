// OvsdbClient: idempotent "ensure" operations on the Open_vSwitch database over RFC 7047
// JSON-RPC. Each call reads the rows it concerns, plans the difference with the pure functions of
// transaction_plan.h and sends a transaction only if something differs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "ovsdb/ovsdb_json.h"
#include "ovsdb/ovsdb_types.h"
#include "ovsdb/transport.h"

namespace sluice::ovsdb {

// Whether a call had to change the database.
enum class Changed : bool { kNo = false, kYes = true };

struct OvsdbClientOptions {
  // Per JSON-RPC call (waits add their own timeout on top).
  std::chrono::milliseconds callTimeout = std::chrono::seconds(10);
};

// Not thread-safe: use one client per thread, or serialise calls.
class OvsdbClient {
 public:
  // remote: "unix:PATH", e.g. OvsSandbox::dbRemote() or "unix:/var/run/openvswitch/db.sock".
  static Result<std::unique_ptr<OvsdbClient>> connect(const std::string& remote,
                                                      const OvsdbClientOptions& options = {});
  explicit OvsdbClient(std::unique_ptr<Transport> transport,
                       const OvsdbClientOptions& options = {});

  Result<Changed> ensureBridge(const BridgeOptions& bridge);
  Result<Changed> ensurePort(const PortOptions& port);
  // No-op (kNo) when the bridge does not hold the port, or does not exist.
  Result<Changed> deletePort(const std::string& bridge, const std::string& name);
  Result<Changed> deleteBridge(const std::string& name);

  // The interface's ofport: nullopt until ovs-vswitchd assigns one, -1 if it failed.
  Result<std::optional<int64_t>> getOfport(const std::string& interfaceName);
  // Blocks (an OVSDB "wait" operation, no polling) until the ofport is assigned; an error naming
  // the interface's error column if ovs-vswitchd could not create it.
  Result<int64_t> waitForOfport(const std::string& interfaceName,
                                std::chrono::milliseconds timeout);
  // Bumps next_cfg and waits until ovs-vswitchd has applied everything up to it (cur_cfg), as
  // `ovs-vsctl` without --no-wait does. After it, bridges' .mgmt sockets and ofports exist.
  Result<void> waitForVswitchd(std::chrono::milliseconds timeout);

  // One key of a map column of one row. Setting the value it already has sends nothing.
  Result<std::optional<std::string>> getMapEntry(const RecordRef& record, MapColumn column,
                                                 const std::string& key);
  Result<Changed> setMapEntry(const RecordRef& record, MapColumn column, const std::string& key,
                              const std::string& value);
  Result<Changed> removeMapEntry(const RecordRef& record, MapColumn column, const std::string& key);

  Result<std::optional<std::string>> getExternalId(const RecordRef& record,
                                                   const std::string& key) {
    return getMapEntry(record, MapColumn::kExternalIds, key);
  }
  Result<Changed> setExternalId(const RecordRef& record, const std::string& key,
                                const std::string& value) {
    return setMapEntry(record, MapColumn::kExternalIds, key, value);
  }
  Result<Changed> removeExternalId(const RecordRef& record, const std::string& key) {
    return removeMapEntry(record, MapColumn::kExternalIds, key);
  }
  // other_config of the Open_vSwitch row (e.g. flow-restore-wait).
  Result<std::optional<std::string>> getOtherConfig(const std::string& key) {
    return getMapEntry(RecordRef::openVswitch(), MapColumn::kOtherConfig, key);
  }
  Result<Changed> setOtherConfig(const std::string& key, const std::string& value) {
    return setMapEntry(RecordRef::openVswitch(), MapColumn::kOtherConfig, key, value);
  }
  Result<Changed> removeOtherConfig(const std::string& key) {
    return removeMapEntry(RecordRef::openVswitch(), MapColumn::kOtherConfig, key);
  }

  // The whole of Bridge, Port and Interface (the columns the client knows), e.g. to rebuild
  // state after a restart. The ensure operations read only the rows they concern.
  Result<Snapshot> readSnapshot();
  // Sends operations as one transaction; any operation error becomes an Error naming `what`.
  Result<Json> transact(const Json& operations, const std::string& what,
                        std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // How many transactions that could change the database this client has sent.
  uint64_t mutatingTransactions() const { return mutatingTransactions_; }

 private:
  // Runs planner() (which reads what it needs and returns the operations) and sends the plan if
  // it is not empty. Retried once, from a fresh read, if the transaction fails (a dropped
  // connection or a concurrent writer): plans are idempotent, so a retry either finds the work
  // done or redoes it. Reads retry by themselves after a dropped connection (transact()).
  template <typename Planner>
  Result<Changed> applyPlan(const std::string& what, Planner planner);
  Result<Snapshot> readRows(const Json& query, const std::string& what);
  Result<Snapshot> readForPort(const PortOptions& port);
  Result<Changed> sendPlan(const Json& operations, const std::string& what);

  std::unique_ptr<Transport> transport_;
  OvsdbClientOptions options_;
  uint64_t mutatingTransactions_ = 0;
};

}  // namespace sluice::ovsdb
