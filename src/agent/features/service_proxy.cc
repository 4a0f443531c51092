// Service-proxy flows and groups. docs/services.md walks the packets; docs/pipeline.md lists the
// tables. Every flow goes through ofrules::FlowBuilder; group buckets through an ActionList that
// runs in ServiceLB, so their table references are checked the same way.
#include "agent/features/service_proxy.h"

#include "agent/features/priorities.h"
#include "ofrules/actions.h"
#include "ofrules/fields.h"
#include "ofrules/flow_builder.h"

namespace sluice::agent::features {
namespace {

using namespace sluice::ofrules;

// Every bucket weighs the same: endpoints share a frontend's new connections evenly.
constexpr std::uint32_t kBucketWeight = 100;
constexpr std::uint16_t kEthTypeIpv4 = 0x800;

std::string ip(Ipv4 address) { return formatIpv4(address); }

FlowBuilder flow(const Pipeline& pipeline, Table table, std::uint16_t priority, Cookie cookie) {
  FlowBuilder builder(pipeline.table(table));
  builder.priority(priority).cookie(cookie);
  return builder;
}

// L3Forwarding's hand-over to the node's kernel on the gateway: as it is (no SNAT), past
// EgressMark, straight to the conntrack commit.
FlowBuilder& toKernel(FlowBuilder& builder, const NodeNetwork& node) {
  return builder.modDlDst(node.gatewayMac)
      .load(kTargetOfPort, kGatewayOfPort)
      .loadMark(kOfPortFound)
      .gotoTable(Table::kConntrackCommit);
}

Protocol flowProtocol(ServiceProtocol protocol) {
  switch (protocol) {
    case ServiceProtocol::kTcp: return Protocol::kTcp;
    case ServiceProtocol::kUdp: return Protocol::kUdp;
    case ServiceProtocol::kSctp: return Protocol::kSctp;
  }
  return Protocol::kTcp;
}

std::uint8_t ipProtocolNumber(ServiceProtocol protocol) {
  switch (protocol) {
    case ServiceProtocol::kTcp: return 6;
    case ServiceProtocol::kUdp: return 17;
    case ServiceProtocol::kSctp: return 132;
  }
  return 6;
}

const HeaderField& destinationPortField(ServiceProtocol protocol) {
  switch (protocol) {
    case ServiceProtocol::kTcp: return kTcpDst;
    case ServiceProtocol::kUdp: return kUdpDst;
    case ServiceProtocol::kSctp: return kSctpDst;
  }
  return kTcpDst;
}

// How a frontend's packets look before the DNAT: to the ClusterIP and the Service port, or (from
// the gateway) to kNodePortVirtualIp and the NodePort.
struct Frontend {
  std::string label;  // "cluster" or "external", in learn cookies
  Ipv4 address = 0;
  std::uint16_t port = 0;
  bool fromGateway = false;  // NodePort: the node's kernel DNATed it and sent it on the gateway
  std::uint32_t group = 0;
  bool localOnly = false;
};

FlowBuilder& matchFrontend(FlowBuilder& builder, const ServicePort& port,
                           const Frontend& frontend) {
  builder.matchProtocol(flowProtocol(port.protocol)).matchIpDst(ip(frontend.address));
  switch (port.protocol) {
    case ServiceProtocol::kTcp: builder.matchTcpDst(frontend.port); break;
    case ServiceProtocol::kUdp: builder.matchUdpDst(frontend.port); break;
    case ServiceProtocol::kSctp: builder.matchSctpDst(frontend.port); break;
  }
  if (frontend.fromGateway) builder.matchMark(kFromGateway);
  return builder;
}

// The flows and the group of one frontend (none without usable endpoints).
void addFrontend(const Pipeline& pipeline, const ServicePort& port, const Frontend& frontend,
                 Cookie cookie, std::vector<Result<Flow>>& flows, std::vector<Group>& groups,
                 std::vector<std::string>& errors) {
  const auto endpoints = usableEndpoints(port.endpoints, frontend.localOnly);
  if (endpoints.empty()) return;  // the node's kernel rejects it (docs/services.md)
  const bool affinity = port.affinityTimeoutSeconds.has_value();

  // A userspace hash of the connection's addresses and ports: each new connection sticks to one
  // bucket, different connections spread (docs/services.md: why not OVS's default dp_hash).
  Group group{frontend.group, GroupType::kSelect, {}, "hash", {}};
  group.selectionFields = {"ip_src", "ip_dst", std::string(protocolName(port.protocol)) + "_src",
                           std::string(protocolName(port.protocol)) + "_dst"};
  for (const auto& endpoint : endpoints) {
    ActionList bucket(ActionContext{&pipeline, Table::kServiceLb});
    bucket.load(kEndpointIp, endpoint.ip);
    bucket.load(kEndpointPort, endpoint.port);
    if (affinity) {
      // Back to ServiceLB, where the frontend's learn flow records the choice.
      bucket.load(kAffinityLearn.field, kAffinityLearn.value);
      bucket.resubmitSameTable();
    } else {
      bucket.resubmit(Table::kEndpointDnat);
    }
    for (const auto& error : bucket.errors())
      errors.push_back("group " + std::to_string(frontend.group) + ": " + error);
    group.buckets.push_back(Bucket{kBucketWeight, bucket.render()});

    // EndpointDNAT: the packet still carries the frontend's address, so each frontend has its own
    // flow per endpoint (two Services sharing an endpoint never share a flow).
    auto dnat = flow(pipeline, Table::kEndpointDnat, kPriorityEndpointDnat, cookie);
    matchFrontend(dnat, port, frontend)
        .matchField(kEndpointIp, endpoint.ip)
        .matchField(kEndpointPort, endpoint.port)
        .ct(CtAction()
                .commit()
                .zone(kDefaultCtZone)
                .natDst(ip(endpoint.ip), endpoint.port)
                .loadMark(kCtServiceMark)
                .table(Table::kL3Forwarding));
    flows.push_back(dnat.build());
  }
  groups.push_back(std::move(group));

  auto lb = flow(pipeline, Table::kServiceLb, kPriorityServiceFrontend, cookie);
  matchFrontend(lb, port, frontend)
      .matchCtState(CtState().with(CtFlag::kNew).with(CtFlag::kTrk))
      .group(frontend.group);
  flows.push_back(lb.build());

  if (!affinity) return;
  // The learn flow: the learned flow in SessionAffinity matches this client and frontend and
  // loads the endpoint the bucket chose. Learning again on every new connection restarts the
  // timeout. Its cookie is this frontend's own, so delete_learned removes exactly its flows.
  const auto& portField = destinationPortField(port.protocol);
  const Cookie learnedCookie =
      makeOwnerCookie(Category::kService, serviceOwner(port.service) + "/" + port.portName + "/" +
                                              frontend.label + "/affinity");
  auto learn = flow(pipeline, Table::kServiceLb, kPriorityServiceAffinityLearn, cookie);
  matchFrontend(learn, port, frontend)
      .matchMark(kAffinityLearn)
      .learn(LearnAction()
                 .table(Table::kSessionAffinity)
                 .priority(kPrioritySessionAffinityLearned)
                 .hardTimeout(*port.affinityTimeoutSeconds)
                 .deleteLearned()
                 .cookie(learnedCookie.encode())
                 .matchEthType(kEthTypeIpv4)
                 .match(kIpProto, ipProtocolNumber(port.protocol))
                 .match(portField, frontend.port)
                 .matchSame(kIpSrc)
                 .matchSame(kIpDst)
                 .loadSame(kEndpointIp)
                 .loadSame(kEndpointPort)
                 .loadMark(kAffinityHit))
      .gotoTable(Table::kEndpointDnat);
  flows.push_back(learn.build());
  // An affinity hit whose endpoint is gone (no EndpointDNAT flow above): choose again.
  auto reselect = flow(pipeline, Table::kEndpointDnat, kPriorityEndpointReselect, cookie);
  matchFrontend(reselect, port, frontend)
      .matchMark(kAffinityHit)
      .load(kAffinityHit.field, 0)
      .group(frontend.group);
  flows.push_back(reselect.build());
}

}  // namespace

std::string_view protocolName(ServiceProtocol protocol) {
  return ofrules::protocolName(flowProtocol(protocol));
}

std::vector<ServiceEndpoint> usableEndpoints(const std::vector<ServiceEndpoint>& all,
                                             bool localOnly) {
  std::vector<ServiceEndpoint> ready;
  std::vector<ServiceEndpoint> terminating;
  for (const auto& endpoint : all) {
    if (localOnly && !endpoint.local) continue;
    if (endpoint.ready) {
      ready.push_back(endpoint);
    } else if (endpoint.serving && endpoint.terminating) {
      terminating.push_back(endpoint);
    }
  }
  return ready.empty() ? terminating : ready;
}

std::string serviceOwner(const std::string& namespacedName) { return "service:" + namespacedName; }

void declareServiceTables(PipelineBuilder& builder) {
  builder.declare("service", {Table::kUnSnat, Table::kConntrackZone, Table::kConntrackState,
                              Table::kSessionAffinity, Table::kServiceLb, Table::kEndpointDnat,
                              Table::kL3Forwarding, Table::kConntrackCommit, Table::kOutput});
}

Result<std::vector<Flow>> proxyNodeFlows(const Pipeline& pipeline, const NodeNetwork& node,
                                         const ProxyConfig& config) {
  const Cookie cookie = makeOwnerCookie(Category::kService, "service-proxy");
  std::vector<Result<Flow>> flows;

  // ConntrackState: only new connections visit the proxy's tables.
  if (config.enabled) {
    flows.push_back(flow(pipeline, Table::kConntrackState, kPriorityServiceLookup, cookie)
                        .matchProtocol(Protocol::kIp)
                        .matchCtState(CtState().with(CtFlag::kNew).with(CtFlag::kTrk))
                        .resubmit(Table::kSessionAffinity)
                        .gotoTable(Table::kServiceLb)
                        .build());
  }
  flows.push_back(flow(pipeline, Table::kConntrackState, kPrioritySkipServiceTables, cookie)
                      .matchProtocol(Protocol::kIp)
                      .gotoTable(Table::kL3Forwarding)
                      .build());

  // ServiceLB: a client with a learned endpoint skips the group; it learns again (through the
  // frontend's learn flow, which wins once AffinityLearn is set), which restarts the timeout.
  if (config.enabled) {
    flows.push_back(flow(pipeline, Table::kServiceLb, kPriorityServiceAffinityHit, cookie)
                        .matchProtocol(Protocol::kIp)
                        .matchMark(kAffinityHit)
                        .matchField(kAffinityLearnField, 0)
                        .loadMark(kAffinityLearn)
                        .resubmitSameTable()
                        .build());
  }

  // L3Forwarding: the Service CIDR (and, with the proxy on, NodePort traffic OVS did not serve)
  // goes to the node's kernel without SNAT and never to EgressMark: kube-proxy DNATs it, or
  // the proxy served nothing and the kernel rejects it.
  std::vector<std::string> toGateway;
  if (config.serviceCidr.prefix != 0) toGateway.push_back(config.serviceCidr.toString());
  if (config.enabled) toGateway.emplace_back(kNodePortVirtualIp);
  for (const auto& destination : toGateway) {
    flows.push_back(
        toKernel(flow(pipeline, Table::kL3Forwarding, kPriorityForwardServiceCidr, cookie)
                     .matchProtocol(Protocol::kIp)
                     .matchIpDst(destination),
                 node)
            .build());
  }

  if (config.enabled) {
    // Replies of NodePort connections (externalTrafficPolicy Local keeps the client's address):
    // un-DNATed to kNodePortVirtualIp, they go back to the kernel, which undoes its own DNAT.
    flows.push_back(
        toKernel(flow(pipeline, Table::kL3Forwarding, kPriorityForwardServiceReply, cookie)
                     .matchProtocol(Protocol::kIp)
                     .matchIpSrc(kNodePortVirtualIp),
                 node)
            .build());
    // EndpointDNAT committed the connection with its NAT; committing again is needless.
    flows.push_back(flow(pipeline, Table::kConntrackCommit, kPriorityCommitSkipService, cookie)
                        .matchProtocol(Protocol::kIp)
                        .matchCtState(CtState().with(CtFlag::kNew).with(CtFlag::kTrk))
                        .matchMark(kCtServiceMark)
                        .gotoTable(Table::kOutput)
                        .build());
  } else {
    // kube-proxy mode: the kernel may have DNATed what comes from the gateway; the replies must
    // go back to it to be un-DNATed, whatever their destination.
    flows.push_back(flow(pipeline, Table::kConntrackCommit, kPriorityCommitFromGateway, cookie)
                        .matchProtocol(Protocol::kIp)
                        .matchMark(kFromGateway)
                        .matchCtState(CtState().with(CtFlag::kNew).with(CtFlag::kTrk))
                        .ct(CtAction().commit().zone(kDefaultCtZone).loadMark(kCtFromGatewayMark))
                        .gotoTable(Table::kOutput)
                        .build());
    for (const Mark& source : {kFromPod, kFromTunnel})
      flows.push_back(
          toKernel(flow(pipeline, Table::kL3Forwarding, kPriorityForwardServiceReply, cookie)
                       .matchProtocol(Protocol::kIp)
                       .matchMark(source)
                       .matchCtState(CtState().with(CtFlag::kRpl).with(CtFlag::kTrk))
                       .matchMark(kCtFromGatewayMark),
                   node)
              .build());
  }
  return collectFlows(std::move(flows));
}

Result<ServiceFlows> serviceFlows(const Pipeline& pipeline, const NodeNetwork& /*node*/,
                                  const ServicePort& port, const ServiceGroupIds& groups) {
  const Cookie cookie = makeOwnerCookie(Category::kService, serviceOwner(port.service));
  std::vector<Result<Flow>> flows;
  ServiceFlows out;
  std::vector<std::string> errors;
  if (port.clusterIp != 0) {
    if (groups.cluster == 0) return makeError(port.service + " " + port.portName + ": no group ID");
    addFrontend(
        pipeline, port,
        Frontend{"cluster", port.clusterIp, port.port, false, groups.cluster, port.internalLocal},
        cookie, flows, out.groups, errors);
  }
  if (port.nodePort != 0) {
    if (groups.external == 0)
      return makeError(port.service + " " + port.portName + ": a NodePort and no group ID");
    addFrontend(pipeline, port,
                Frontend{"external", *parseIpv4(kNodePortVirtualIp), port.nodePort, true,
                         groups.external, port.externalLocal},
                cookie, flows, out.groups, errors);
  }
  auto built = collectFlows(std::move(flows));
  if (!built) errors.push_back(built.error().message);
  if (!errors.empty()) {
    std::string message = port.service + " " + port.portName + ": ";
    for (std::size_t i = 0; i < errors.size(); ++i) message += (i > 0 ? "; " : "") + errors[i];
    return makeError(std::move(message));
  }
  out.flows = std::move(*built);
  return out;
}

}  // namespace sluice::agent::features
