// Pure planning of idempotent OVSDB transactions: from a Snapshot of the database and a desired
// description to the RFC 7047 operations that close the gap. An empty operation list means the
// database already matches, so the client sends nothing.
#pragma once

#include <optional>
#include <string>

#include "common/result.h"
#include "ovsdb/ovsdb_json.h"
#include "ovsdb/ovsdb_types.h"

namespace sluice::ovsdb {

// Checks what can be checked without the database: names, ranges, required options.
Result<void> validateBridge(const BridgeOptions& bridge);
Result<void> validatePort(const PortOptions& port);

// The Interface.options a port's type implies (remote_ip/key/... for Geneve, peer for patch).
StringMap interfaceOptions(const PortOptions& port);

// Creates the bridge (with its local internal port, as ovs-vsctl add-br does) or updates the
// columns that differ.
Result<Json> planEnsureBridge(const Snapshot& snapshot, const BridgeOptions& bridge);
// Creates the port and its interface on an existing bridge, or updates what differs. Fails,
// naming the fix, when the port sits on another bridge or its ofport_request is taken.
Result<Json> planEnsurePort(const Snapshot& snapshot, const PortOptions& port);
// Removes the port from the bridge (OVSDB garbage-collects the Port and Interface rows); empty
// when the bridge has no such port.
Json planDeletePort(const Snapshot& snapshot, const std::string& bridge, const std::string& name);
// Removes the bridge from Open_vSwitch (its ports go with it); empty when absent.
Json planDeleteBridge(const Snapshot& snapshot, const std::string& name);

// Mutations that make `current` contain every key of `desired` with its value, leaving other
// keys alone. Race-free against other writers of other keys. Empty when nothing differs.
Json mapMergeMutations(const std::string& column, const StringMap& current,
                       const StringMap& desired);

// One key of a map column: set it (value) or remove it (nullopt). Empty when it already holds.
Json planMapEntry(const RecordRef& record, MapColumn column, const std::string& key,
                  const std::optional<std::string>& current,
                  const std::optional<std::string>& desired);

}  // namespace sluice::ovsdb
