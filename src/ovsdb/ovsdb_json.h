// RFC 7047 value encoding (atoms, sets, maps, UUIDs) and the snapshot query, as pure functions
// between nlohmann::json and the plain types of ovsdb_types.h.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "ovsdb/ovsdb_types.h"

namespace sluice::ovsdb {

using Json = nlohmann::json;

inline constexpr const char* kDatabase = "Open_vSwitch";

Json encodeMap(const StringMap& map);
Json encodeStringSet(const std::vector<std::string>& values);
Json encodeOptionalInteger(const std::optional<int64_t>& value);
Json uuidRef(const std::string& uuid);      // ["uuid", "..."]
Json namedUuid(const std::string& name);    // ["named-uuid", "..."]
Json whereUuid(const std::string& uuid);    // [["_uuid", "==", ["uuid", "..."]]]
Json whereName(const std::string& name);    // [["name", "==", "..."]]
Json whereRecord(const RecordRef& record);  // whereName, or [] for Open_vSwitch

// Decoders throw nlohmann::json exceptions on malformed input; callers catch at the boundary.
std::vector<Json> decodeSet(const Json& value);
std::vector<std::string> decodeStringSet(const Json& value);
std::vector<std::string> decodeUuidSet(const Json& value);
StringMap decodeMap(const Json& value);
std::optional<int64_t> decodeOptionalInteger(const Json& value);
std::optional<std::string> decodeOptionalString(const Json& value);
std::string decodeUuid(const Json& value);

// The read-only operations whose results parseSnapshot() turns into a full Snapshot.
Json snapshotQuery();
Result<Snapshot> parseSnapshot(const Json& results);

// Targeted reads, so that ensuring one object costs the same with 10 ports or 1,000. They give a
// partial Snapshot holding every row the matching plan function looks at.
// The bridge and a port or interface of the same name.
Json bridgeQuery(const std::string& bridge);
// The bridge, the port and its interface, and interfaces whose ofport or ofport_request equals
// the requested one.
Json portQuery(const PortOptions& port);
// After portQuery: the bridge holding an existing port, and the ports of possibly colliding
// interfaces. Empty when nothing more is needed.
Json portFollowUpQuery(const Snapshot& snapshot, const PortOptions& port);
// Parses the results of any list of selects, by each operation's table.
Result<Snapshot> parseSelected(const Json& query, const Json& results);
// Adds the rows of `from` that `into` lacks.
void mergeSnapshot(Snapshot& into, const Snapshot& from);

// A "transact" request's params: the database name followed by the operations.
Json transactParams(const Json& operations);
// Checks a transact reply: any operation error (or the extra commit error) becomes an Error
// naming `what` and the failing operation.
Result<Json> checkTransactReply(const Json& operations, const Json& reply, const std::string& what);

}  // namespace sluice::ovsdb
