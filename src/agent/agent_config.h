// The agent's configuration: a YAML file (the ConfigMap's sluice-agent.conf in a cluster) plus
// NODE_NAME from the environment. Parsing is strict: an unknown key or a bad value is an error
// naming the key and the fix, never silently ignored.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ipv4.h"
#include "common/result.h"

namespace sluice::agent {

enum class DatapathType { kSystem, kNetdev };

// Sluice's own Service proxy (on by default) or kube-proxy's: keys serviceProxy, serviceCIDR,
// nodePortAddresses.
struct ProxySettings {
  bool enabled = true;  // key serviceProxy; false: kube-proxy serves Services
  // kube-apiserver's --service-cluster-ip-range. Not configured: at start the agent reads the
  // ServiceCIDR "kubernetes" (Kubernetes 1.31+) and keeps kubeadm's default below when it cannot
  // (see kube/service_cidr.h). The agent checks every ClusterIP against it and warns when one is
  // outside.
  Cidr serviceCidr = parseCidr("10.96.0.0/12").value_or(Cidr{});
  bool serviceCidrConfigured = false;  // false: not in the file; detected or the default above
  // Where NodePorts answer: this node's addresses in these CIDRs; empty: the node IP only.
  std::vector<Cidr> nodePortAddresses;
};

struct AgentConfig {
  std::string nodeName;  // from NODE_NAME
  DatapathType datapathType = DatapathType::kSystem;
  std::string ovsRunDir = "/var/run/openvswitch";  // db.sock and BRIDGE.mgmt live here
  std::string integrationBridge = "br-int";        // key: ovsBridge
  std::string physicalBridge = "br-phy";           // netdev only: holds the uplink and the node IP
  std::string uplinkInterface;  // key: transportInterface; empty: the one holding the node IP
  std::string gatewayInterface = "sluice-gw0";
  std::string tunnelInterface = "sluice-tun0";
  int tunnelPort = 6081;  // Geneve's IANA port
  int mtu = 0;            // 0 ("auto"): the uplink's MTU minus the Geneve overhead
  std::string cniSocket = "/var/run/sluice/cni.sock";
  std::string stateDir = "/var/lib/sluice";
  std::string kubeconfig;  // empty: in-cluster config
  // HOST:PORT of the controller's replicas, comma-separated (a headless Service's name resolves
  // to all of them); empty: the controllerService from the environment.
  std::string controllerAddress;
  // Its ClusterIP Service, found via SERVICE_HOST/_PORT env variables: used while the names in
  // controllerAddress do not resolve (cluster DNS needs a working CNI).
  std::string controllerService = "sluice-controller";
  int reportIntervalMs = 100;  // liveness reports to the controller, and peer probes
  // Drop egress IPs after this long without the leader and without a majority of the witnesses.
  int fencingTimeoutMs = 300;
  int peerProbePort = 10351;  // UDP, on every node: peer probes and their acks
  int peerWitnesses = 5;      // witnesses per node (k); keep it equal to the controller's
  int gratuitousArpCount = 3;
  bool disableConntrackTcpSequenceCheck = true;
  std::string listenAddress = "127.0.0.1:10350";  // /metrics, /healthz, /readyz
  std::string logLevel = "info";
  ProxySettings proxy;

  std::string ovsdbRemote() const { return "unix:" + ovsRunDir + "/db.sock"; }
  std::string bridgeTarget(const std::string& bridge) const {
    return "unix:" + ovsRunDir + "/" + bridge + ".mgmt";
  }
};

// Geneve over IPv4: outer IP 20 + UDP 8 + Geneve 8 + inner Ethernet 14.
inline constexpr int kGeneveOverhead = 50;

// "100ms", "4s", "1m" to milliseconds.
std::optional<int> parseDurationMs(const std::string& text);

Result<AgentConfig> parseAgentConfig(const std::string& yamlText, const std::string& nodeName);
Result<AgentConfig> loadAgentConfig(const std::string& path, const std::string& nodeName);

}  // namespace sluice::agent
