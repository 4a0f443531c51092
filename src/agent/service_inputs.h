// The service proxy's inputs, pure: decoded Services and their EndpointSlices become the
// frontends (features::ServicePort) this node serves; and the group IDs those frontends use.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "agent/features/service_proxy.h"
#include "api/service.h"

#include <nlohmann/json.hpp>

namespace sluice::agent {

features::ServiceProtocol toFeatureProtocol(api::Protocol protocol);
// "tcp", "udp", "sctp" (the cache's form; the same words as features::protocolName).
std::string_view protocolText(features::ServiceProtocol protocol);

// One ServicePort per port of the Service. Endpoints come from every slice given (several slices
// per Service): matched by port name and protocol, the target port from the slice's port of that
// name, each address once (when slices repeat an address, the one with the best conditions wins:
// ready, then serving). Endpoints on `nodeName` are local. Headless (clusterIP None), ExternalName
// and Services without an IPv4 ClusterIP get no ClusterIP frontend; a port with neither
// ClusterIP nor NodePort is not served and is left out. Slices with problems in their endpoints
// still give their good endpoints (the decoder left out the bad ones).
std::vector<features::ServicePort> servicePorts(const api::Service& service,
                                                const std::vector<api::EndpointSlice>& slices,
                                                const std::string& nodeName);

// A frontend's identity for its group IDs: service, port name, protocol.
using FrontendKey = std::tuple<std::string, std::string, features::ServiceProtocol>;
FrontendKey frontendKey(const features::ServicePort& port);

// Group IDs for frontends: stable while the frontend exists, freed IDs reused (lowest first),
// never two frontends (or kinds) on one ID. IDs start at `first` (the IDs below it belong to
// other features).
class ServiceGroupAllocator {
 public:
  enum class Kind : std::uint8_t { kCluster, kExternal };
  explicit ServiceGroupAllocator(std::uint32_t first = kFirstServiceGroupId)
      : first_(first), next_(first) {}

  static constexpr std::uint32_t kFirstServiceGroupId = 0x10000;

  // The frontend's IDs: `cluster` always, `external` when it has a NodePort; a kind that is no
  // longer needed is freed.
  features::ServiceGroupIds assign(const features::ServicePort& port);
  // Takes the IDs a frontend had before a restart (restored from the state cache); false when one
  // is already taken (then assign() gives it another).
  bool reserve(const features::ServicePort& port, const features::ServiceGroupIds& ids);
  // Frees every ID of the service's frontends not in `keep`.
  void releaseService(const std::string& service, const std::set<FrontendKey>& keep = {});
  std::size_t size() const { return ids_.size(); }

 private:
  std::uint32_t take(const FrontendKey& key, Kind kind);
  bool reserveOne(const FrontendKey& key, Kind kind, std::uint32_t id);
  void release(const FrontendKey& key, Kind kind);

  std::map<std::pair<FrontendKey, Kind>, std::uint32_t> ids_;
  std::uint32_t first_;
  std::set<std::uint32_t> free_;
  std::uint32_t next_;
};

// The state cache's form of what the proxy served (services-cache.json): the frontends and
// their group IDs per Service, so that a restarted agent installs them, with the same groups,
// before its first sync. Pure; an unreadable entry is left out.
nlohmann::json servicePortsToJson(
    const std::map<std::string, std::pair<std::vector<features::ServicePort>,
                                          std::vector<features::ServiceGroupIds>>>& services);
std::map<std::string,
         std::pair<std::vector<features::ServicePort>, std::vector<features::ServiceGroupIds>>>
servicePortsFromJson(const nlohmann::json& saved);

}  // namespace sluice::agent
