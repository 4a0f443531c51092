// The external_ids keys Sluice writes in OVSDB (the ones src/agent uses), in one place: they let
// the agent rebuild its state from OVSDB after a restart. docs/ovsdb.md explains each.
#pragma once

namespace sluice::ovsdb::keys {

// On the integration bridge (br-int): the node name. On br-int and on br-phy: the bridge's flow
// syncer's restart round (decimal) that flow cookies carry (ovsdb::OvsdbRoundStore).
inline constexpr const char* kNode = "sluice-node";
inline constexpr const char* kRound = "sluice-round";

// On the physical bridge (br-phy): the uplink interface Sluice moved into it.
inline constexpr const char* kUplink = "sluice-uplink";

// On a pod's Interface row: who the pod is, so the agent restores pod flows from OVSDB alone.
inline constexpr const char* kContainerId = "sluice-container-id";
inline constexpr const char* kIfName = "sluice-if-name";
inline constexpr const char* kPodNamespace = "sluice-pod-namespace";
inline constexpr const char* kPodName = "sluice-pod-name";
inline constexpr const char* kPodIp = "sluice-pod-ip";
inline constexpr const char* kPodMac = "sluice-pod-mac";

}  // namespace sluice::ovsdb::keys
