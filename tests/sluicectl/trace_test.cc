// trace: the flows given to ofproto/trace, and reading captured ofproto/trace output.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "sluicectl/trace_view.h"

namespace sluice::sluicectl {
namespace {

Trace tcpTrace() {
  Trace command;
  command.podNamespace = "prod";
  command.podName = "web-1";
  command.destination = "10.10.3.1";
  command.protocol = Protocol::kTcp;
  command.destinationPort = 8080;
  return command;
}

LocalPod web() {
  return LocalPod{"prod", "web-1", "pod:abc/eth0", "10.244.1.2", "02:11:22:33:44:55", 5, {}};
}

TEST_CASE("the pod's packet as ofproto/trace takes it", "[unit]") {
  CHECK(podPacketFlow(tcpTrace(), web(), "02:00:00:00:00:01") ==
        "tcp,in_port=5,dl_src=02:11:22:33:44:55,dl_dst=02:00:00:00:00:01,nw_src=10.244.1.2,"
        "nw_dst=10.10.3.1,nw_ttl=64,tp_src=40000,tp_dst=8080,tcp_flags=syn");
  auto ping = tcpTrace();
  ping.protocol = Protocol::kIcmp;
  CHECK_THAT(podPacketFlow(ping, web(), "02:00:00:00:00:01"),
             Catch::StartsWith("icmp,in_port=5,") && Catch::EndsWith(",icmp_type=8,icmp_code=0"));
  CHECK(tunnelPacketFlow(
            tcpTrace(), web(),
            TunnelArrival{1, "10.10.2.1", "10.10.2.2", 0xa0a0008, "aa:bb:cc:dd:ee:ff"}) ==
        "tcp,in_port=1,tun_id=0xa0a0008,tun_src=10.10.2.1,tun_dst=10.10.2.2,"
        "dl_src=02:11:22:33:44:55,dl_dst=aa:bb:cc:dd:ee:ff,nw_src=10.244.1.2,nw_dst=10.10.3.1,"
        "nw_ttl=63,tp_src=40000,tp_dst=8080,tcp_flags=syn");
}

// ofproto/trace output captured from a lab (tests/sluicectl/fixtures).
std::string fixture(const std::string& name) {
  std::ifstream in(std::string(SLUICE_SOURCE_ROOT) + "/tests/sluicectl/fixtures/" + name);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

AgentStatus nodeStatus(const std::string& node) {
  AgentStatus status;
  status.node = node;
  status.integrationBridge = "br-int";
  const char* names[] = {"Classifier",    "SpoofGuard",      "ARPResponder", "UnSNAT",
                         "ConntrackZone", "ConntrackState",  "L3Forwarding", "EgressMark",
                         "SNAT",          "ConntrackCommit", "Output"};
  for (int id = 0; id < 11; ++id) status.tables.push_back(PipelineTable{id, names[id], ""});
  status.pods.push_back(web());
  status.pods.back().ofport = 4;
  return status;
}

TEST_CASE("a selected pod's packet on its own node: EgressMark sends it into the tunnel",
          "[unit]") {
  const auto parsed = parseTrace(fixture("trace-source-tunnel.txt"));
  std::vector<int> tables;
  for (const auto& step : parsed.steps) tables.push_back(step.table);
  // Two passes (the ct() recirculation), then br-phy's NORMAL.
  CHECK(tables == std::vector<int>{0, 1, 3, 4, 5, 6, 7, 9, 10, 0});
  CHECK(parsed.steps[0].pass == 0);
  CHECK(parsed.steps[4].pass == 1);
  CHECK(parsed.steps[6].priority == 100);
  CHECK(parsed.steps[6].match == "ip,nw_src=10.244.1.2");
  CHECK(parsed.steps[6].cookie == 0x1067a00305380u);
  CHECK(parsed.steps[9].bridge == "br-phy");
  CHECK(parsed.steps[0].bridge == "br-int");
  REQUIRE(parsed.tunnelDestination);
  CHECK(*parsed.tunnelDestination == "10.10.2.2");
  CHECK(parsed.tunnelId == 0xa0008u);
  CHECK(parsed.tunnelDestinationMac == "aa:bb:cc:dd:ee:ff");
  CHECK(parsed.outputPorts == std::vector<int>{1});
  CHECK_FALSE(parsed.snatIp);
  CHECK_FALSE(parsed.dropped);
  CHECK(parsed.datapathActions.size() == 2);
  const auto status = nodeStatus("node01");
  CHECK(describeOutput(parsed, status, "node02") == "tunnel to 10.10.2.2 (node02), tun_id 0xa0008");

  const auto text = renderTrace({NodeTrace{status, "tcp,in_port=4", parsed, "tunnel"}}, "");
  CHECK_THAT(text, Catch::Contains("  EgressMark [100] ip,nw_src=10.244.1.2\n"));
  CHECK_THAT(text, Catch::Contains("goto_table:ConntrackCommit"));
  CHECK_THAT(text, Catch::Contains("br-phy table 0 [0]"));
}

TEST_CASE("at the egress node: tun_id picks the egress IP and SNAT commits it", "[unit]") {
  const auto parsed = parseTrace(fixture("trace-egress-node-snat.txt"));
  REQUIRE(parsed.snatIp);
  CHECK(*parsed.snatIp == "10.10.0.8");
  CHECK(parsed.outputPorts == std::vector<int>{2});
  const auto& snat = parsed.steps.back();
  CHECK(snat.table == 8);
  // OVS repeats the ct's nat() and exec() actions on their own lines; they are left out.
  CHECK(snat.actions ==
        std::vector<std::string>{"ct(commit,zone=65521,nat(src=10.10.0.8),exec(set_field:0x2/0x2->"
                                 "ct_mark))",
                                 "set_field:1a:b5:c5:71:eb:fd->eth_dst", "output:2"});
  auto status = nodeStatus("node02");
  CHECK(describeOutput(parsed, status, "") == "gateway (port 2), on to the node's network");

  auto source = parseTrace(fixture("trace-source-tunnel.txt"));
  const std::vector<NodeTrace> hops = {
      NodeTrace{nodeStatus("node01"), "tcp,in_port=4", source, "tunnel to 10.10.2.2 (node02)"},
      NodeTrace{status, "tcp,in_port=1", parsed, "gateway (port 2)"}};
  const auto json = traceJson(hops, "");
  CHECK(json["snat"] == "10.10.0.8");
  CHECK(json["hops"][1]["node"] == "node02");
  CHECK(json["hops"][1]["tables"].back()["table"] == "SNAT");
  CHECK(json["hops"][0]["tunnelId"] == "0xa0008");
  CHECK_THAT(renderTrace(hops, ""), Catch::Contains("SNAT: source 10.10.0.8"));
}

TEST_CASE("a packet to a pod CIDR address with no pod is dropped in L3Forwarding", "[unit]") {
  const auto parsed = parseTrace(fixture("trace-drop.txt"));
  CHECK(parsed.dropped);
  CHECK(parsed.outputPorts.empty());
  CHECK(parsed.steps.back().table == 6);
  CHECK(parsed.steps.back().actions == std::vector<std::string>{"drop"});
  CHECK(describeOutput(parsed, nodeStatus("node01"), "") == "dropped");
}

TEST_CASE("No match and unknown text do not confuse the parser", "[unit]") {
  const auto parsed = parseTrace(
      "Flow: ip\n\nbridge(\"br-int\")\n----------------\n 0. No match.\n    drop\n\n"
      "Final flow: unchanged\nDatapath actions: drop\n");
  REQUIRE(parsed.steps.size() == 1);
  CHECK(parsed.steps[0].priority == -1);
  CHECK(parsed.dropped);
  CHECK(parseTrace("").steps.empty());
}

// A Service's select group in ofproto/trace, in the form OVS's xlate writes it ("group:N",
// " -> using bucket B", "bucket B" and the bucket's actions), trimmed by hand to what the parser
// reads; fixtures/trace-service-clusterip.txt is a whole capture from a lab.
const char* kServiceTrace =
    R"(Flow: tcp,in_port=5,dl_src=02:11:22:33:44:55,nw_src=10.244.1.2,nw_dst=10.96.0.10,tp_dst=80

bridge("br-int")
----------------
 0. in_port=5, priority 200, cookie 0x10390e5927857
    goto_table:10
10. tcp,nw_dst=10.96.0.10,tp_dst=80, priority 200, cookie 0x7000000001234
    group:65536
     -> using bucket 1
    bucket 1
            ct(commit,table=11,zone=65520,nat(dst=10.244.2.5:8080))
            nat(dst=10.244.2.5:8080)
             -> A clone of the packet is forked to recirculate. The forked pipeline will be resumed at table 11.

Final flow: unchanged
Datapath actions: ct(commit,zone=65520,nat(dst=10.244.2.5:8080)),recirc(0x7)
)";

TEST_CASE("trace reads the Service's group, the bucket picked and its endpoint", "[unit]") {
  const auto parsed = parseTrace(kServiceTrace);
  REQUIRE(parsed.loadBalancing);
  CHECK(*parsed.loadBalancing == LoadBalancing{65536, 1, "10.244.2.5:8080", ""});
  CHECK(describeLoadBalancing(*parsed.loadBalancing) ==
        "group 65536, bucket 1: endpoint 10.244.2.5:8080");
  std::string empty = kServiceTrace;
  empty.replace(empty.find("     -> using bucket 1"), 22, "     -> no live bucket");
  const auto none = parseTrace(empty);
  REQUIRE(none.loadBalancing);
  CHECK_FALSE(none.loadBalancing->bucket);
  CHECK_FALSE(none.loadBalancing->endpoint);
  CHECK_THAT(describeLoadBalancing(*none.loadBalancing), Catch::Contains("no live bucket"));
  CHECK_FALSE(parseTrace(fixture("trace-source-tunnel.txt")).loadBalancing);
}

TEST_CASE(
    "a ClusterIP SYN captured in a lab: SessionAffinity's miss returns to the resubmit, the "
    "group picks the endpoint",
    "[unit]") {
  const auto parsed = parseTrace(fixture("trace-service-clusterip.txt"));
  REQUIRE(parsed.loadBalancing);
  CHECK(parsed.loadBalancing->group == 65540);
  CHECK(parsed.loadBalancing->endpoint == "10.244.2.2:80");
  AgentStatus status = nodeStatus("node01");
  status.tables.clear();
  const char* names[] = {"Classifier",    "SpoofGuard",      "ARPResponder",    "UnSNAT",
                         "ConntrackZone", "ConntrackState",  "SessionAffinity", "ServiceLB",
                         "EndpointDNAT",  "L3Forwarding",    "EgressMark",      "L3DecTTL",
                         "SNAT",          "ConntrackCommit", "Output"};
  for (int id = 0; id < 15; ++id) status.tables.push_back(PipelineTable{id, names[id], ""});
  const auto text = renderTrace({NodeTrace{status, "tcp,in_port=5", parsed, "tunnel"}}, "");
  INFO(text);
  CHECK_THAT(text, Catch::Contains("  SessionAffinity [0]\n"
                                   "      -> (no entry: back to the resubmitting flow)\n"));
  CHECK_THAT(text, Catch::Contains("  ServiceLB [190] ct_state=+new+trk,tcp,nw_dst=10.107.64.169"));
  CHECK_THAT(text, Catch::Contains("nat(dst=10.244.2.2:80)"));
}

}  // namespace
}  // namespace sluice::sluicectl
