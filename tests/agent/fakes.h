// Fakes of the agent's interfaces (flow sink, OVS control, pod ports, remote-node host, egress
// ARP) for unit tests of the feature units: each records what it was asked to do.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/egress_plan.h"
#include "agent/flow_sink.h"
#include "agent/ovs_control.h"
#include "agent/pod_ports.h"
#include "agent/remote_nodes_unit.h"
#include "agent/service_host.h"
#include "agent/tunnel_neighbours.h"

namespace sluice::agent::testing {

class FakeFlowSink : public FlowSink {
 public:
  Result<void> setFlows(const std::string& owner,
                        const std::vector<ofrules::Flow>& flows) override {
    owners[owner] = flows;
    return {};
  }
  Result<void> setGroups(const std::string& owner,
                         const std::vector<ofrules::Group>& groups) override {
    if (groups.empty())
      groupOwners.erase(owner);
    else
      groupOwners[owner] = groups;
    return {};
  }
  void deleteOwner(const std::string& owner) override {
    owners.erase(owner);
    groupOwners.erase(owner);
  }
  Result<void> sync() override {
    ++syncs;
    return {};
  }
  std::map<std::string, std::vector<ofrules::Flow>> owners;
  std::map<std::string, std::vector<ofrules::Group>> groupOwners;
  int syncs = 0;
};

class FakeOvsControl : public OvsControl {
 public:
  Result<std::string> run(const std::string& command,
                          const std::vector<std::string>& arguments) override {
    std::string line = command;
    for (const auto& argument : arguments) line += " '" + argument + "'";
    commands.push_back(line);
    return std::string();
  }
  std::vector<std::string> commands;
};

class FakePodPorts : public PodPorts {
 public:
  Result<std::uint32_t> add(const PodAttachment& attachment) override {
    ports[attachment.hostIfName] = attachment;
    return nextOfport++;
  }
  Result<void> remove(const std::string& hostIfName) override {
    ports.erase(hostIfName);
    return {};
  }
  Result<std::vector<PodAttachment>> list() override {
    std::vector<PodAttachment> out;
    for (const auto& [name, port] : ports) out.push_back(port);
    return out;
  }
  std::map<std::string, PodAttachment> ports;
  std::uint32_t nextOfport = 10;
};

class FakeRemoteNodeHost : public RemoteNodeHost {
 public:
  Result<void> ensurePodRoute(const Cidr& podCidr) override {
    routes.insert(podCidr.toString());
    return {};
  }
  void resolveTunnelNeighbour(Ipv4 nodeIp) override { neighbours.insert(nodeIp); }
  void forgetTunnelNeighbour(Ipv4 nodeIp) override { neighbours.erase(nodeIp); }
  std::set<std::string> routes;
  std::set<Ipv4> neighbours;
};

class FakeServiceHost : public ServiceHost {
 public:
  Result<void> apply(const ServiceHostPlan& plan) override {
    plans.push_back(plan);
    return {};
  }
  std::vector<ServiceHostPlan> plans;
};

class FakeEgressArp : public EgressArp {
 public:
  void announce(Ipv4 egressIp) override { announced.push_back(egressIp); }
  void claim(Ipv4 egressIp) override { claimed.push_back(egressIp); }
  bool claims() const override { return claiming; }
  std::vector<Ipv4> announced;
  std::vector<Ipv4> claimed;
  bool claiming = true;
};

}  // namespace sluice::agent::testing

namespace sluice::agent::testing {

// The kernel's neighbours: none until `learn` says so; counts probes.
class FakeNeighbourTable : public NeighbourTable {
 public:
  Result<std::optional<Neighbour>> lookup(Ipv4 nodeIp) override {
    std::lock_guard lock(mutex);
    const auto found = macs.find(nodeIp);
    if (found == macs.end()) return std::optional<Neighbour>();
    return std::optional<Neighbour>(Neighbour{nodeIp, *parseMac(found->second)});
  }
  void probe(Ipv4) override {
    std::lock_guard lock(mutex);
    ++probes;
  }
  void learn(Ipv4 nodeIp, std::string mac) {
    std::lock_guard lock(mutex);
    macs[nodeIp] = std::move(mac);
  }
  int probeCount() {
    std::lock_guard lock(mutex);
    return probes;
  }
  std::mutex mutex;
  std::map<Ipv4, std::string> macs;
  int probes = 0;
};

}  // namespace sluice::agent::testing
