// Plain data of the OVSDB client: the desired state callers ask for (bridges, ports) and a
// snapshot of what the Open_vSwitch database holds. No I/O here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::ovsdb {

using StringMap = std::map<std::string, std::string>;

enum class DatapathType { kSystem, kNetdev };
enum class FailMode { kSecure, kStandalone };

// A bridge as Sluice wants it. Columns Sluice owns (datapath_type, fail_mode, protocols) are set
// exactly; other_config and external_ids are merged: the keys given are set, others are kept.
struct BridgeOptions {
  std::string name = {};
  DatapathType datapathType = DatapathType::kSystem;
  FailMode failMode = FailMode::kSecure;
  std::vector<std::string> protocols = {"OpenFlow10", "OpenFlow13", "OpenFlow15"};
  StringMap otherConfig = {};
  StringMap externalIds = {};
};

enum class PortType { kInternal, kGeneve, kPatch, kSystem };

// Options of a Geneve tunnel port. "flow" lets OpenFlow set the value per packet (set_field of
// tun_dst / tun_id), which is how one port serves every peer node.
struct GeneveOptions {
  std::string remoteIp = "flow";
  std::string key = "flow";
  std::optional<std::string> localIp = {};
  std::optional<uint16_t> destinationPort = {};  // default 6081
  bool checksum = false;                         // options:csum=true
};

// A port (with its one interface of the same name) as Sluice wants it. type, options,
// ofport_request and mtu_request are set exactly (absent means cleared); externalIds are merged
// into the Interface row's external_ids (where Antrea and OVN keep pod identity).
struct PortOptions {
  std::string bridge = {};
  std::string name = {};
  PortType type = PortType::kInternal;
  GeneveOptions geneve = {};   // used when type == kGeneve
  std::string patchPeer = {};  // required when type == kPatch: the peer patch port's name
  std::optional<int64_t> ofportRequest = {};
  std::optional<int64_t> mtuRequest = {};
  StringMap externalIds = {};
};

// Rows as read from the database (only the columns the client uses). UUIDs are strings.
// Every member has an initializer, so designated initializers may omit any of them (GCC 12's
// -Wmissing-field-initializers fires otherwise).
struct OpenVswitchRow {
  std::string uuid = {};
  std::vector<std::string> bridges = {};
  StringMap externalIds = {};
  StringMap otherConfig = {};
  int64_t nextCfg = 0;
  int64_t curCfg = 0;
};

struct BridgeRow {
  std::string uuid = {};
  std::string name = {};
  std::vector<std::string> ports = {};
  std::string datapathType = {};
  std::optional<std::string> failMode = {};
  std::vector<std::string> protocols = {};
  StringMap otherConfig = {};
  StringMap externalIds = {};
};

struct PortRow {
  std::string uuid = {};
  std::string name = {};
  std::vector<std::string> interfaces = {};
  StringMap externalIds = {};
};

struct InterfaceRow {
  std::string uuid = {};
  std::string name = {};
  std::string type = {};
  StringMap options = {};
  std::optional<int64_t> ofport = {};  // unset until ovs-vswitchd assigns it; -1 on failure
  std::optional<int64_t> ofportRequest = {};
  std::optional<int64_t> mtuRequest = {};
  StringMap externalIds = {};
  std::optional<std::string> error = {};
};

// Rows of the database the ensure operations compare against: all of them (readSnapshot), or
// only those one call needs (portQuery and friends in ovsdb_json.h). Lookups that find nothing
// in a partial snapshot mean "not relevant to this call".
struct Snapshot {
  OpenVswitchRow root = {};
  std::vector<BridgeRow> bridges = {};
  std::vector<PortRow> ports = {};
  std::vector<InterfaceRow> interfaces = {};

  const BridgeRow* findBridge(const std::string& name) const;
  const PortRow* findPort(const std::string& name) const;
  const InterfaceRow* findInterface(const std::string& name) const;
  const InterfaceRow* findInterfaceByUuid(const std::string& uuid) const;
  const PortRow* findPortByUuid(const std::string& uuid) const;
  // The bridge whose ports column holds the port, or nullptr.
  const BridgeRow* bridgeOfPort(const std::string& portUuid) const;
};

// The value of a map column as the client reads and writes it.
enum class MapColumn { kExternalIds, kOtherConfig };

// A row addressed by table and name; the Open_vSwitch table has a single row (name ignored).
struct RecordRef {
  std::string table = {};  // "Open_vSwitch", "Bridge", "Port" or "Interface"
  std::string name = {};

  static RecordRef openVswitch() { return {"Open_vSwitch", ""}; }
  static RecordRef bridge(std::string name) { return {"Bridge", std::move(name)}; }
  static RecordRef port(std::string name) { return {"Port", std::move(name)}; }
  static RecordRef interface(std::string name) { return {"Interface", std::move(name)}; }
};

const char* toString(DatapathType type);
const char* toString(FailMode mode);
const char* toString(PortType type);  // the Interface.type value: "internal", "geneve", ...
const char* columnName(MapColumn column);

}  // namespace sluice::ovsdb
