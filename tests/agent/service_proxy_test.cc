// The service-proxy feature: which endpoints a frontend uses, the flows and groups it renders, the
// node flows of both modes, and (in a real ovs-vswitchd) that a ClusterIP SYN is DNATed to an
// endpoint and a hairpin SYN is SNATed to kHairpinVirtualIp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "agent/features/egress.h"
#include "agent/features/pod_network.h"
#include "agent/features/priorities.h"
#include "agent/features/service_proxy.h"
#include "ofctl_oracle.h"
#include "ofrules/flow_builder.h"
#include "ofrules/flow_syncer.h"
#include "ofrules/round_store.h"
#include "testing/ovs_sandbox.h"
#include "testing/subprocess.h"

namespace sluice::agent::features {
namespace {

using namespace sluice::ofrules;

ServiceEndpoint endpoint(const char* address, std::uint16_t port, bool local = true) {
  return ServiceEndpoint{*parseIpv4(address), port, true, true, false, local};
}

struct Fixture {
  Pipeline pipeline;
  NodeNetwork node{"node01",
                   *parseIpv4("10.10.2.1"),
                   *parseCidr("10.244.1.0/24"),
                   "02:00:00:00:01:01",
                   {*parseCidr("10.244.0.0/16")}};
  ProxyConfig config{true, *parseCidr("10.96.0.0/12")};
  ServicePort web;
  Fixture() {
    PipelineBuilder builder;
    declarePodNetworkTables(builder);
    declareEgressTables(builder);
    declareServiceTables(builder);
    pipeline = builder.build();
    web.service = "prod/web";
    web.portName = "http";
    web.clusterIp = *parseIpv4("10.96.0.10");
    web.port = 80;
    web.endpoints = {endpoint("10.244.1.5", 8080), endpoint("10.244.2.7", 8080, false)};
  }
  std::uint8_t id(Table table) const { return *pipeline.id(table); }
  std::string table(Table table) const { return "table=" + std::to_string(id(table)) + ","; }
};

std::vector<std::string> render(const std::vector<Flow>& flows) {
  std::vector<std::string> lines;
  for (const auto& flow : flows) lines.push_back(renderFlow(flow));
  return lines;
}

// The line that contains every fragment, or "" (so a failed CHECK prints the lines).
bool has(const std::vector<std::string>& lines, const std::vector<std::string>& fragments) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
    return std::all_of(fragments.begin(), fragments.end(), [&](const std::string& fragment) {
      return line.find(fragment) != std::string::npos;
    });
  });
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

TEST_CASE("usable endpoints: ready ones, else serving and terminating ones, local-only", "[unit]") {
  auto ready = endpoint("10.244.1.5", 80);
  auto notReady = endpoint("10.244.1.6", 80);
  notReady.ready = false;
  notReady.serving = false;
  auto terminating = endpoint("10.244.2.7", 80, false);
  terminating.ready = false;
  terminating.terminating = true;
  auto terminatingNotServing = endpoint("10.244.1.8", 80);
  terminatingNotServing.ready = false;
  terminatingNotServing.serving = false;
  terminatingNotServing.terminating = true;

  auto ips = [](const std::vector<ServiceEndpoint>& endpoints) {
    std::vector<std::string> out;
    for (const auto& e : endpoints) out.push_back(formatIpv4(e.ip));
    return out;
  };
  CHECK(ips(usableEndpoints({ready, notReady, terminating}, false)) ==
        std::vector<std::string>{"10.244.1.5"});
  // No ready endpoint: the serving-and-terminating ones keep connections alive.
  CHECK(ips(usableEndpoints({notReady, terminating, terminatingNotServing}, false)) ==
        std::vector<std::string>{"10.244.2.7"});
  // Local only: the remote terminating one does not count, and nothing is left.
  CHECK(usableEndpoints({notReady, terminating, terminatingNotServing}, true).empty());
  CHECK(ips(usableEndpoints({ready, terminating}, true)) == std::vector<std::string>{"10.244.1.5"});
  CHECK(usableEndpoints({}, false).empty());
}

TEST_CASE("a ClusterIP frontend: a select group over its endpoints, a DNAT per endpoint",
          "[unit]") {
  Fixture f;
  auto built = serviceFlows(f.pipeline, f.node, f.web, ServiceGroupIds{7, 0});
  INFO((built ? std::string() : built.error().message));
  REQUIRE(built);
  const auto lines = render(built->flows);
  INFO(joined(lines));
  const std::string cookie =
      "cookie=" + renderHex(makeOwnerCookie(Category::kService, "service:prod/web").encode());
  CHECK(has(lines, {f.table(Table::kServiceLb), "priority=190", cookie,
                    "tcp,ct_state=+new+trk,nw_dst=10.96.0.10,tp_dst=80 actions=group:7"}));
  CHECK(has(lines, {f.table(Table::kEndpointDnat), "priority=200",
                    "tcp,reg3=0xaf40105,reg4=0x1f90/0xffff,nw_dst=10.96.0.10,tp_dst=80 "
                    "actions=ct(commit,zone=65520,nat(dst=10.244.1.5:8080),exec(load:0x1->NXM_"
                    "NX_CT_MARK[2]),table=" +
                        std::to_string(f.id(Table::kL3Forwarding)) + ")"}));
  CHECK(has(lines, {"nat(dst=10.244.2.7:8080)"}));
  CHECK(lines.size() == 3);
  REQUIRE(built->groups.size() == 1);
  const Group& group = built->groups[0];
  CHECK(group.id == 7);
  CHECK(group.type == GroupType::kSelect);
  REQUIRE(group.buckets.size() == 2);
  CHECK(group.buckets[0].weight == group.buckets[1].weight);
  CHECK(group.buckets[0].actions ==
        "load:0xaf40105->NXM_NX_REG3[],load:0x1f90->NXM_NX_REG4[0..15],resubmit(," +
            std::to_string(f.id(Table::kEndpointDnat)) + ")");
  CHECK(protocolName(ServiceProtocol::kSctp) == "sctp");
}

TEST_CASE("UDP and SCTP frontends match their own protocol", "[unit]") {
  Fixture f;
  f.web.protocol = ServiceProtocol::kUdp;
  auto udp = render(serviceFlows(f.pipeline, f.node, f.web, {7, 0})->flows);
  CHECK(has(udp, {"udp,ct_state=+new+trk,nw_dst=10.96.0.10,tp_dst=80 actions=group:7"}));
  f.web.protocol = ServiceProtocol::kSctp;
  auto sctp = render(serviceFlows(f.pipeline, f.node, f.web, {7, 0})->flows);
  CHECK(has(sctp, {"sctp,ct_state=+new+trk,nw_dst=10.96.0.10,tp_dst=80 actions=group:7"}));
}

TEST_CASE("a NodePort frontend matches the virtual IP from the gateway, with its own policy",
          "[unit]") {
  Fixture f;
  f.web.nodePort = 30080;
  f.web.externalLocal = true;
  auto built = serviceFlows(f.pipeline, f.node, f.web, ServiceGroupIds{7, 8});
  REQUIRE(built);
  const auto lines = render(built->flows);
  INFO(joined(lines));
  CHECK(has(lines, {"tcp,reg0=0x3/0xf,ct_state=+new+trk,nw_dst=169.254.0.252,tp_dst=30080 "
                    "actions=group:8"}));
  REQUIRE(built->groups.size() == 2);
  // externalTrafficPolicy Local: the external group holds the local endpoint only; the cluster
  // group both.
  CHECK(built->groups[0].buckets.size() == 2);
  CHECK(built->groups[1].id == 8);
  CHECK(built->groups[1].buckets.size() == 1);
  CHECK_FALSE(has(lines, {"nw_dst=169.254.0.252", "nat(dst=10.244.2.7"}));

  SECTION("a NodePort needs its group ID") {
    CHECK_FALSE(serviceFlows(f.pipeline, f.node, f.web, ServiceGroupIds{7, 0}));
  }
}

TEST_CASE("no usable endpoints: no ServiceLB flow and no group; the kernel rejects", "[unit]") {
  Fixture f;
  SECTION("none at all") { f.web.endpoints.clear(); }
  SECTION("internalTrafficPolicy Local without a local endpoint") {
    f.web.internalLocal = true;
    f.web.endpoints = {endpoint("10.244.2.7", 8080, false)};
  }
  SECTION("none ready, none terminating") {
    for (auto& e : f.web.endpoints) e.ready = e.serving = false;
  }
  auto built = serviceFlows(f.pipeline, f.node, f.web, ServiceGroupIds{7, 0});
  REQUIRE(built);
  CHECK(built->flows.empty());
  CHECK(built->groups.empty());
  // What the packet meets instead: the Service CIDR goes to the gateway, without SNAT.
  const auto node = render(*proxyNodeFlows(f.pipeline, f.node, f.config));
  CHECK(has(node, {f.table(Table::kL3Forwarding),
                   "ip,nw_dst=10.96.0.0/12 actions=mod_dl_dst:"
                   "02:00:00:00:01:01,load:0x2->NXM_NX_REG1[],"
                   "load:0x1->NXM_NX_REG0[8],goto_table:" +
                       std::to_string(f.id(Table::kConntrackCommit))}));
}

TEST_CASE("ClientIP affinity: buckets learn through ServiceLB, hits skip the group", "[unit]") {
  Fixture f;
  f.web.affinityTimeoutSeconds = 10800;
  auto built = serviceFlows(f.pipeline, f.node, f.web, ServiceGroupIds{7, 0});
  REQUIRE(built);
  const auto lines = render(built->flows);
  INFO(joined(lines));
  const auto lb = std::to_string(f.id(Table::kServiceLb));
  CHECK(built->groups[0].buckets[0].actions ==
        "load:0xaf40105->NXM_NX_REG3[],load:0x1f90->NXM_NX_REG4[0..15],"
        "load:0x1->NXM_NX_REG4[16],resubmit(," +
            lb + ")");
  const auto learnedCookie = renderHex(
      makeOwnerCookie(Category::kService, "service:prod/web/http/cluster/affinity").encode());
  CHECK(has(lines,
            {f.table(Table::kServiceLb), "priority=210",
             "tcp,reg4=0x10000/0x10000,nw_dst=10.96.0.10,tp_dst=80 actions=learn(table=" +
                 std::to_string(f.id(Table::kSessionAffinity)) +
                 ",priority=200,hard_timeout=10800,delete_learned,cookie=" + learnedCookie +
                 ",eth_type=0x800,nw_proto=6,tcp_dst=80,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],load:"
                 "NXM_NX_REG3[]->NXM_NX_REG3[],load:NXM_NX_REG4[0..15]->NXM_NX_REG4[0..15],load:"
                 "0x1->NXM_NX_REG4[17]),goto_table:" +
                 std::to_string(f.id(Table::kEndpointDnat))}));
  // A learned endpoint that is gone: pick again through the group.
  CHECK(has(lines, {f.table(Table::kEndpointDnat), "priority=190",
                    "tcp,reg4=0x20000/0x20000,nw_dst=10.96.0.10,tp_dst=80 "
                    "actions=load:0x0->NXM_NX_REG4[17],group:7"}));
  const auto node = render(*proxyNodeFlows(f.pipeline, f.node, f.config));
  CHECK(has(node,
            {f.table(Table::kServiceLb), "priority=200",
             "ip,reg4=0x20000/0x30000 actions=load:0x1->NXM_NX_REG4[16],resubmit(," + lb + ")"}));
  CHECK(has(node, {f.table(Table::kConntrackState), "priority=190",
                   "ip,ct_state=+new+trk actions=resubmit(," +
                       std::to_string(f.id(Table::kSessionAffinity)) + "),goto_table:" + lb}));
}

TEST_CASE("proxy node flows: both modes hand the Service CIDR to the node", "[unit]") {
  Fixture f;
  const auto l3 = std::to_string(f.id(Table::kL3Forwarding));
  SECTION("proxy on") {
    const auto lines = render(*proxyNodeFlows(f.pipeline, f.node, f.config));
    INFO(joined(lines));
    CHECK(has(lines,
              {f.table(Table::kConntrackState), "priority=180", "ip actions=goto_table:" + l3}));
    CHECK(has(lines, {f.table(Table::kL3Forwarding), "priority=205",
                      "ip,nw_src=169.254.0.252 actions=mod_dl_dst:02:00:00:00:01:01"}));
    CHECK(has(lines, {f.table(Table::kL3Forwarding), "ip,nw_dst=169.254.0.252 actions="}));
    CHECK(has(lines, {f.table(Table::kConntrackCommit), "priority=206",
                      "ip,ct_state=+new+trk,ct_mark=0x4/0x4 actions=goto_table:" +
                          std::to_string(f.id(Table::kOutput))}));
    CHECK_FALSE(has(lines, {"ct_mark=0x8/0x8"}));
  }
  SECTION("kube-proxy mode") {
    f.config.enabled = false;
    const auto lines = render(*proxyNodeFlows(f.pipeline, f.node, f.config));
    INFO(joined(lines));
    CHECK(has(lines, {f.table(Table::kL3Forwarding), "ip,nw_dst=10.96.0.0/12 actions="}));
    CHECK_FALSE(has(lines, {"169.254.0.252"}));
    CHECK_FALSE(has(lines, {"resubmit"}));
    CHECK(has(lines, {f.table(Table::kConntrackCommit), "priority=205",
                      "ip,reg0=0x3/0xf,ct_state=+new+trk actions=ct(commit,zone=65520,exec(load:"
                      "0x1->NXM_NX_CT_MARK[3])),goto_table:" +
                          std::to_string(f.id(Table::kOutput))}));
    for (const char* source : {"reg0=0x1/0xf", "reg0=0x2/0xf"})
      CHECK(has(lines, {f.table(Table::kL3Forwarding), "priority=205",
                        std::string("ip,") + source +
                            ",ct_state=+rpl+trk,ct_mark=0x8/0x8 actions=mod_dl_dst:"
                            "02:00:00:00:01:01,load:0x2->NXM_NX_REG1[]"}));
  }
}

TEST_CASE("hairpin: a pod reaching itself is SNATed and sent back out of its port", "[unit]") {
  Fixture f;
  const LocalPod pod{"pod:prod/web-1", *parseIpv4("10.244.1.5"), "0a:58:0a:f4:01:05", 4};
  const auto pods = render(*podFlows(f.pipeline, f.node, pod));
  const auto node = render(*nodeFlows(f.pipeline, f.node));
  INFO(joined(pods) + joined(node));
  CHECK(has(pods, {f.table(Table::kL3Forwarding), "priority=220",
                   "ip,nw_src=10.244.1.5,nw_dst=10.244.1.5 actions=mod_dl_src:02:00:00:00:01:01,"
                   "mod_dl_dst:0a:58:0a:f4:01:05,load:0x4->NXM_NX_REG1[],load:0x1->NXM_NX_REG0[8],"
                   "load:0x1->NXM_NX_REG0[10],goto_table:" +
                       std::to_string(f.id(Table::kSnat))}));
  CHECK(has(pods, {f.table(Table::kOutput), "priority=210",
                   "in_port=4,reg0=0x100/0x100,reg1=0x4 actions=IN_PORT"}));
  CHECK(has(node, {f.table(Table::kSnat), "priority=220",
                   "ip,reg0=0x400/0x400 actions=ct(commit,zone=65521,nat(src=169.254.0.253)),"
                   "goto_table:" +
                       std::to_string(f.id(Table::kOutput))}));
  CHECK(has(node, {f.table(Table::kUnSnat),
                   "ip,reg0=0x1/0xf,nw_dst=169.254.0.253 actions=ct(zone=65521,nat,table=" +
                       std::to_string(f.id(Table::kConntrackZone)) + ")"}));
  CHECK(has(node, {f.table(Table::kConntrackZone),
                   "ip actions=ct(zone=65520,nat,table=" +
                       std::to_string(f.id(Table::kConntrackState)) + ")"}));
}

TEST_CASE("other nodes' IPs never take an Egress", "[unit]") {
  Fixture f;
  const RemoteNode remote{"node02", *parseIpv4("10.10.2.2"), *parseCidr("10.244.2.0/24")};
  const auto lines = render(*remoteNodeFlows(f.pipeline, f.node, remote));
  CHECK(has(lines,
            {f.table(Table::kEgressMark), "priority=400",
             "ip,nw_dst=10.10.2.2 actions=goto_table:" + std::to_string(f.id(Table::kL3DecTtl))}));
  static_assert(kPriorityEgressNodeIp > kPriorityEgressExcludedBase + 32);
}

TEST_CASE("ovs-ofctl parses every service-proxy flow", "[ovs]") {
  Fixture f;
  f.web.nodePort = 30080;
  f.web.affinityTimeoutSeconds = 60;
  std::vector<Flow> all = serviceFlows(f.pipeline, f.node, f.web, {7, 8})->flows;
  for (bool enabled : {true, false}) {
    f.config.enabled = enabled;
    const auto node = proxyNodeFlows(f.pipeline, f.node, f.config);
    REQUIRE(node);
    all.insert(all.end(), node->begin(), node->end());
  }
  const auto verdict = testing::ofctlParses(all);
  INFO(verdict.output);
  CHECK(verdict.accepted);
}

// br-int as the agent programs it, in a sandbox (netdev datapath): the gateway (ofport 2) is an
// internal port, pods are PodHosts; node, pod, proxy and Service flows and groups go through a
// FlowSyncer.
struct IntegrationBridge {
  static constexpr char kName[] = "br-int-sp";
  std::unique_ptr<sluice::testing::OvsSandbox> sandbox;
  MemoryRoundStore rounds;
  std::unique_ptr<FlowSyncer> syncer;

  IntegrationBridge() {
    auto started = sluice::testing::OvsSandbox::start({.namePrefix = "sl-svc"});
    INFO((started ? std::string() : started.error().message));
    REQUIRE(started);
    sandbox = std::move(*started);
    REQUIRE(sandbox->addBridge(kName));
    for (const auto& [port, ofport] : {std::pair{"sp-gw0", 2}}) {
      auto added = sandbox->run(std::string("ovs-vsctl --timeout=20 add-port ") + kName + " " +
                                port + " -- set Interface " + port +
                                " type=internal ofport_request=" + std::to_string(ofport));
      INFO((added ? std::string() : added.error().message));
      REQUIRE(added);
    }
    auto created = FlowSyncer::create(
        FlowSyncerOptions{.connection = {.target = sandbox->bridgeTarget(kName)}}, rounds);
    REQUIRE(created);
    syncer = std::move(*created);
  }
  void install(const std::string& owner, const std::vector<Flow>& flows,
               const std::vector<Group>& groups = {}) {
    REQUIRE(syncer->setGroups(owner, groups));
    auto set = syncer->setFlows(owner, flows);
    INFO((set ? std::string() : set.error().message));
    REQUIRE(set);
    auto synced = syncer->sync();
    INFO((synced ? std::string() : synced.error().message));
    REQUIRE(synced);
  }
  std::string trace(const std::string& packet, const std::string& options = "") const {
    auto output = sandbox->run("ovs-appctl -t " + sandbox->vswitchdControlPath() +
                               " ofproto/trace " + kName + " '" + packet + "' " + options);
    INFO((output ? std::string() : output.error().message));
    REQUIRE(output);
    return *output;
  }
};

std::string datapathActions(const std::string& trace) {
  const auto at = trace.rfind("Datapath actions:");
  return at == std::string::npos ? std::string() : trace.substr(at);
}

// A pod: a network namespace whose eth0 is a veth into the sandbox's bridge, with the pod's MAC
// and IP and a default route via the gateway IP. It runs a TCP server on 8080 that answers with
// its own IP and the peer address it sees.
class PodHost {
 public:
  PodHost(const sluice::testing::OvsSandbox& sandbox, const LocalPod& pod,
          const NodeNetwork& node) {
    const std::string suffix =
        std::to_string(::getpid() % 100000) + "-" + std::to_string(pod.ofport);
    netns_ = "slsvc-" + suffix;
    port_ = "slsvc" + suffix;
    const std::string& switchNs = sandbox.netns();
    run({"ip", "netns", "add", netns_});
    run({"ip", "-n", switchNs, "link", "add", port_, "type", "veth", "peer", "name", "eth0",
         "netns", netns_});
    run({"ip", "-n", netns_, "link", "set", "eth0", "address", pod.mac});
    run({"ip", "-n", netns_, "addr", "add", formatIpv4(pod.ip) + "/24", "dev", "eth0"});
    run({"ip", "-n", netns_, "link", "set", "eth0", "up"});
    // As the agent does at CNI ADD: partial checksums would leave TCP unfinished through OVS's
    // AF_PACKET reads (docs/userspace-datapath.md).
    run({"ip", "netns", "exec", netns_, "ethtool", "-K", "eth0", "tx", "off"});
    run({"ip", "-n", netns_, "link", "set", "lo", "up"});
    run({"ip", "-n", netns_, "route", "add", "default", "via", formatIpv4(node.gatewayIp())});
    run({"ip", "-n", switchNs, "link", "set", port_, "up"});
    // The switch namespace's kernel must not handle frames of a port OVS reads.
    run({"ip", "netns", "exec", switchNs, "nft",
         "add table netdev slsvc; add chain netdev slsvc " + port_ +
             " { type filter hook ingress device \"" + port_ + "\" priority 0; policy drop; }"});
    auto added =
        sandbox.run("ovs-vsctl --timeout=20 add-port br-int-sp " + port_ + " -- set Interface " +
                    port_ + " ofport_request=" + std::to_string(pod.ofport));
    INFO((added ? std::string() : added.error().message));
    REQUIRE(added);
    const std::string server =
        "import socket,sys\n"
        "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        "s.bind(('0.0.0.0',8080));s.listen(64)\n"
        "while True:\n"
        " c,a=s.accept();c.sendall((sys.argv[1]+' '+a[0]).encode());c.close()\n";
    auto spawned = sluice::testing::spawnDaemon(
        {"ip", "netns", "exec", netns_, "python3", "-c", server, formatIpv4(pod.ip)});
    REQUIRE(spawned);
    server_ = *spawned;
  }
  ~PodHost() {
    if (server_ > 0) sluice::testing::stopProcess(server_, std::chrono::seconds(2));
    (void)sluice::testing::runCommand({"ip", "netns", "del", netns_});  // the veth goes with it
  }
  PodHost(const PodHost&) = delete;
  PodHost& operator=(const PodHost&) = delete;

  // Opens `count` connections to address:port one after the other; each line of the result is
  // what the server answered ("SERVER_IP PEER_IP"). With `waitForServer`, a refused connection is
  // retried until the server listens (deadline 20 s); without, it fails the script. A connection
  // that hangs fails after 10 s.
  std::vector<std::string> connect(const std::string& address, int port, int count,
                                   bool waitForServer = false) {
    const std::string client =
        "import socket,sys,time\n"
        "deadline=time.monotonic()+20\n"
        "for i in range(int(sys.argv[3])):\n"
        " while True:\n"
        "  s=socket.socket();s.settimeout(10)\n"
        "  try:\n"
        "   "
        "s.connect((sys.argv[1],int(sys.argv[2])));print(s.recv(100).decode(),flush=True);break\n"
        "  except ConnectionRefusedError:\n"
        "   if sys.argv[4]!='wait' or time.monotonic()>deadline: raise\n"
        "  finally:\n"
        "   s.close()\n";
    auto output = sluice::testing::runCommand(
        {"ip", "netns", "exec", netns_, "python3", "-c", client, address, std::to_string(port),
         std::to_string(count), waitForServer ? "wait" : "once"});
    REQUIRE(output);
    UNSCOPED_INFO(output->err);
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t end; (end = output->out.find('\n', start)) != std::string::npos;
         start = end + 1)
      lines.push_back(output->out.substr(start, end - start));
    return lines;
  }

 private:
  void run(const std::vector<std::string>& argv) {
    auto output = sluice::testing::runCommand(argv);
    INFO(sluice::testing::describeCommand(argv)
         << ": " << (output ? output->err : output.error().message));
    REQUIRE(output);
    REQUIRE(output->exitCode == 0);
  }
  std::string netns_;
  std::string port_;
  pid_t server_ = -1;
};

// Two pods (endpoints of prod/web) on a sandboxed br-int with every flow and group installed.
struct ServiceLab {
  const LocalPod pod1{"pod:prod/web-1", *parseIpv4("10.244.1.5"), "0a:58:0a:f4:01:05", 4};
  const LocalPod pod2{"pod:prod/web-2", *parseIpv4("10.244.1.6"), "0a:58:0a:f4:01:06", 5};
  IntegrationBridge bridge;
  std::unique_ptr<PodHost> host1;
  std::unique_ptr<PodHost> host2;

  explicit ServiceLab(Fixture& f) {
    f.web.endpoints = {endpoint("10.244.1.5", 8080), endpoint("10.244.1.6", 8080)};
    host1 = std::make_unique<PodHost>(*bridge.sandbox, pod1, f.node);
    host2 = std::make_unique<PodHost>(*bridge.sandbox, pod2, f.node);
    auto node = *nodeFlows(f.pipeline, f.node);
    const auto proxy = *proxyNodeFlows(f.pipeline, f.node, f.config);
    node.insert(node.end(), proxy.begin(), proxy.end());
    bridge.install("node", node);
    bridge.install(pod1.owner, *podFlows(f.pipeline, f.node, pod1));
    bridge.install(pod2.owner, *podFlows(f.pipeline, f.node, pod2));
    auto service =
        serviceFlows(f.pipeline, f.node, f.web, ServiceGroupIds{7, f.web.nodePort != 0 ? 8u : 0u});
    REQUIRE(service);
    bridge.install("service:prod/web", service->flows, service->groups);
    // Both servers listen before any test connects through the Service: a refused connection
    // there would be a failure, not a server still starting.
    for (const char* server : {"10.244.1.5", "10.244.1.6"})
      REQUIRE(host2->connect(server, 8080, 1, true).size() == 1);
  }
  std::string dump(const std::string& command) const {
    auto output = bridge.sandbox->run(command);
    return output ? *output : output.error().message;
  }
};

TEST_CASE("in OVS, ClusterIP connections are DNATed over both endpoints, and a hairpin is SNATed",
          "[ovs]") {
  Fixture f;
  ServiceLab lab(f);
  auto& bridge = lab.bridge;
  auto& host2 = *lab.host2;
  // pod2 connects to the ClusterIP 24 times: every connection is answered by an endpoint (so the
  // DNAT and the un-DNAT of the replies work), both endpoints serve some, and when pod2 reaches
  // itself its server sees the hairpin address, not its own.
  const auto answers = host2.connect("10.96.0.10", 80, 24);
  std::string all;
  for (const auto& line : answers) all += line + "\n";
  INFO(all);
  INFO(lab.dump("ovs-appctl dpctl/dump-conntrack"));
  INFO(lab.dump("ovs-ofctl -O OpenFlow15 dump-flows br-int-sp"));
  CHECK(answers.size() == 24);
  std::set<std::string> seen(answers.begin(), answers.end());
  CHECK(seen == std::set<std::string>{"10.244.1.5 10.244.1.6", "10.244.1.6 169.254.0.253"});

  SECTION("a frontend without endpoints gets no flows, so its packets reach the gateway") {
    auto trace = bridge.trace(
        "in_port=5,tcp,dl_src=0a:58:0a:f4:01:06,dl_dst=02:00:00:00:01:01,nw_src=10.244.1.6,"
        "nw_dst=10.96.0.99,nw_ttl=64,tp_src=40000,tp_dst=80,tcp_flags=syn",
        "--ct-next trk,new");
    INFO(trace);
    CHECK_THAT(datapathActions(trace), Catch::Contains("ct(commit,zone=65520)"));
    CHECK_THAT(trace, Catch::Contains("set_field:0x2->reg1"));
  }
}

TEST_CASE("in OVS, NodePort traffic from the gateway is DNATed to a local endpoint", "[ovs]") {
  Fixture f;
  f.web.nodePort = 30080;
  f.web.externalLocal = true;
  ServiceLab lab(f);
  // The node's kernel DNATed NODE_IP:30080 to the virtual IP and sent it on the gateway.
  const auto request = lab.bridge.trace(
      "in_port=2,tcp,dl_src=02:00:00:00:01:01,dl_dst=aa:bb:cc:dd:ee:fe,nw_src=192.0.2.50,"
      "nw_dst=169.254.0.252,nw_ttl=63,tp_src=5555,tp_dst=30080,tcp_flags=syn",
      "--ct-next trk,new --ct-next trk,new");
  INFO(request);
  CHECK_THAT(request, Catch::Contains("group:8"));
  CHECK_THAT(request, Catch::Contains("nat(dst=10.244.1.5:8080)") ||
                          Catch::Contains("nat(dst=10.244.1.6:8080)"));
  // The endpoint is local: delivered to its port, no dec_ttl (the kernel routed it).
  const auto actions = datapathActions(request);
  CHECK((request.find("output port is 4") != std::string::npos) !=
        (request.find("output port is 5") != std::string::npos));
  CHECK(actions.find("dec_ttl") == std::string::npos);
}

TEST_CASE(
    "in OVS, kube-proxy mode hands ClusterIPs to the node and marks the gateway's connections",
    "[ovs]") {
  Fixture f;
  f.config.enabled = false;
  ServiceLab lab(f);
  // A pod's packet to a ClusterIP: no proxy tables, to the gateway, no NAT.
  const auto toService = lab.bridge.trace(
      "in_port=5,tcp,dl_src=0a:58:0a:f4:01:06,dl_dst=02:00:00:00:01:01,nw_src=10.244.1.6,"
      "nw_dst=10.96.0.10,nw_ttl=64,tp_src=40000,tp_dst=80,tcp_flags=syn",
      "--ct-next trk,new");
  INFO(toService);
  CHECK_THAT(toService, Catch::Contains("output port is 2"));
  CHECK_THAT(toService, !Catch::Contains("group:") && !Catch::Contains("nat(dst="));
  // What the kernel sends back in after its DNAT: committed with CtFromGateway.
  const auto fromGateway = lab.bridge.trace(
      "in_port=2,tcp,dl_src=02:00:00:00:01:01,dl_dst=0a:58:0a:f4:01:05,nw_src=10.244.1.6,"
      "nw_dst=10.244.1.5,nw_ttl=63,tp_src=40000,tp_dst=8080,tcp_flags=syn",
      "--ct-next trk,new");
  INFO(fromGateway);
  CHECK_THAT(fromGateway,
             Catch::Contains("ct(commit,zone=65520,exec(set_field:0x8/0x8->ct_mark))"));
  CHECK_THAT(fromGateway, Catch::Contains("output port is 4"));
}

TEST_CASE("in OVS, ClientIP affinity keeps a client on one endpoint", "[ovs]") {
  Fixture f;
  f.web.affinityTimeoutSeconds = 60;
  ServiceLab lab(f);
  const auto answers = lab.host2->connect("10.96.0.10", 80, 12);
  std::string all;
  for (const auto& line : answers) all += line + "\n";
  INFO(all);
  INFO(lab.dump("ovs-ofctl -O OpenFlow15 dump-flows br-int-sp"));
  CHECK(answers.size() == 12);
  CHECK(std::set<std::string>(answers.begin(), answers.end()).size() == 1);
  // The learned flow: this client, this frontend, the endpoint.
  const auto learned = lab.dump("ovs-ofctl -O OpenFlow15 dump-flows br-int-sp table=" +
                                std::to_string(f.id(Table::kSessionAffinity)));
  INFO(learned);
  CHECK_THAT(learned, Catch::Contains("hard_timeout=60") &&
                          Catch::Contains("nw_src=10.244.1.6,nw_dst=10.96.0.10,tp_dst=80"));

  // The learned endpoint leaves the Service: the learned flow still names it, so EndpointDNAT
  // finds no flow for it, picks again through the group and learns the endpoint that is left.
  const std::string first = answers.front().substr(0, answers.front().find(' '));
  const std::string other = first == "10.244.1.5" ? "10.244.1.6" : "10.244.1.5";
  f.web.endpoints = {endpoint(other.c_str(), 8080)};
  auto shrunk = serviceFlows(f.pipeline, f.node, f.web, ServiceGroupIds{7, 0});
  REQUIRE(shrunk);
  lab.bridge.install("service:prod/web", shrunk->flows, shrunk->groups);
  const auto after = lab.host2->connect("10.96.0.10", 80, 4);
  std::string afterText;
  for (const auto& line : after) afterText += line + "\n";
  INFO(afterText);
  REQUIRE(after.size() == 4);
  for (const auto& line : after) CHECK(line.rfind(other + " ", 0) == 0);
  // ... through the reselect flow (the learned flow stayed; it was not deleted with the change).
  const auto dnat = lab.dump("ovs-ofctl -O OpenFlow15 dump-flows br-int-sp table=" +
                             std::to_string(f.id(Table::kEndpointDnat)));
  INFO(dnat);
  bool reselected = false;
  std::size_t start = 0;
  for (std::size_t end; (end = dnat.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = dnat.substr(start, end - start);
    reselected = reselected || (line.find("priority=190") != std::string::npos &&
                                line.find("n_packets=0,") == std::string::npos);
  }
  CHECK(reselected);
}

}  // namespace
}  // namespace sluice::agent::features
