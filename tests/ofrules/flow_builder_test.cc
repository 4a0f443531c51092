// FlowBuilder validation: every rejected flow names itself and says what to fix.
#include <catch2/catch.hpp>

#include <set>

#include "golden_cases.h"
#include "ofrules/flow.h"
#include "ofrules/flow_builder.h"

namespace sluice::ofrules {
namespace {

using Catch::Matchers::Contains;

std::string errorOf(const Result<Flow>& result) {
  REQUIRE_FALSE(result.ok());
  return result.error().message;
}

FlowBuilder at(const Pipeline& pipeline, Table table, std::uint16_t priority = 100) {
  return std::move(FlowBuilder(pipeline.table(table)).priority(priority));
}

TEST_CASE("a backward goto is rejected with a message naming the flow", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  auto result = at(pipeline, Table::kL3Forwarding, 200)
                    .matchProtocol(Protocol::kIp)
                    .matchIpSrc("10.0.0.0/8")
                    .gotoTable(Table::kClassifier)
                    .build();
  auto message = errorOf(result);
  CHECK_THAT(
      message,
      Contains("flow in table L3Forwarding (id 9), priority 200, match \"ip,nw_src=10.0.0.0/8\""));
  CHECK_THAT(message, Contains("goto_table Classifier (id 0) goes backward"));
}

TEST_CASE("a goto to the same table, a backward resubmit and a backward ct(table) are rejected",
          "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  CHECK_THAT(errorOf(at(pipeline, Table::kSnat).gotoTable(Table::kSnat).build()),
             Contains("goes backward"));
  CHECK_THAT(errorOf(at(pipeline, Table::kSnat).resubmit(Table::kSpoofGuard).build()),
             Contains("resubmit SpoofGuard (id 1) goes backward"));
  CHECK_THAT(errorOf(at(pipeline, Table::kSnat)
                         .matchProtocol(Protocol::kIp)
                         .ct(CtAction().zone(kDefaultCtZone).table(Table::kConntrackState))
                         .build()),
             Contains("ct(table) ConntrackState (id 5) goes backward"));
  CHECK(at(pipeline, Table::kSnat).gotoTable(Table::kOutput).build().ok());
}

TEST_CASE("goto to a table the pipeline lacks is rejected", "[unit]") {
  Pipeline pipeline = PipelineBuilder().declare("pod", {Table::kSpoofGuard}).build();
  CHECK_THAT(errorOf(at(pipeline, Table::kClassifier).gotoTable(Table::kSnat).build()),
             Contains("goto_table SNAT: the table is not in this pipeline"));
  CHECK_THAT(errorOf(at(pipeline, Table::kSnat).drop().build()),
             Contains("table SNAT is not in the pipeline"));
  CHECK_THAT(errorOf(at(pipeline, Table::kSpoofGuard).gotoNextTable().build()),
             Contains("SpoofGuard is the last table"));
}

TEST_CASE("values wider than their field are rejected", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  CHECK_THAT(errorOf(at(pipeline, Table::kClassifier).load(kPacketSource, 16).build()),
             Contains("load 0x10 to PacketSource (reg0[0..3]): the value is wider than the field's "
                      "4 bits (max 0xf)"));
  CHECK_THAT(errorOf(at(pipeline, Table::kClassifier).matchField(kTargetOfPortFound, 2).build()),
             Contains("match 0x2 on TargetOfPortFound (reg0[8])"));
  CHECK_THAT(
      errorOf(
          at(pipeline, Table::kClassifier).matchField(kEgressId, std::uint64_t{1} << 32).build()),
      Contains("EgressId (reg2[0..31])"));
  CHECK_THAT(errorOf(at(pipeline, Table::kClassifier)
                         .matchProtocol(Protocol::kIp)
                         .ct(CtAction().commit().zone(kDefaultCtZone).load(kCtEgressSnat, 3))
                         .build()),
             Contains("CtEgressSnat (ct_mark[1])"));
  CHECK_THAT(errorOf(at(pipeline, Table::kArpResponder).setField(kArpOp, 0x10000).build()),
             Contains("wider than the field's 16 bits"));
  // The full 32 bits of the egress ID are usable: no 255 cap.
  CHECK(at(pipeline, Table::kClassifier).load(kEgressId, 0xffffffff).build().ok());
}

TEST_CASE("contradictory or incomplete matches are rejected", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState).matchTcpDst(80).build()),
             Contains("tcp_dst needs matchProtocol(Protocol::kTcp), but no protocol is set"));
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState)
                         .matchProtocol(Protocol::kUdp)
                         .matchTcpDst(80)
                         .build()),
             Contains("but the flow matches udp"));
  CHECK_THAT(
      errorOf(
          at(pipeline, Table::kConntrackState).matchProtocol(Protocol::kIp).matchArpOp(1).build()),
      Contains("arp_op needs matchProtocol(Protocol::kArp), but the flow matches ip"));
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState)
                         .matchProtocol(Protocol::kArp)
                         .matchIpSrc("10.0.0.1")
                         .build()),
             Contains("nw_src needs an IPv4 protocol"));
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState).matchIpDst("10.0.0.1").build()),
             Contains("nw_dst needs"));
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState)
                         .matchProtocol(Protocol::kTcp)
                         .matchIpProto(17)
                         .build()),
             Contains("nw_proto needs matchProtocol(Protocol::kIp)"));
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState)
                         .matchProtocol(Protocol::kIp)
                         .matchEthType(0x806)
                         .build()),
             Contains("both set the Ethernet type"));
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState)
                         .matchProtocol(Protocol::kIp)
                         .matchProtocol(Protocol::kArp)
                         .build()),
             Contains("the protocol is matched twice"));
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState).matchInPort(0).build()),
             Contains("in_port=0: OpenFlow has no port 0"));
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState).matchInPort(1).matchInPort(2).build()),
             Contains("in_port is matched twice"));
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState)
                         .matchCtState(CtState().with(CtFlag::kNew).without(CtFlag::kNew))
                         .build()),
             Contains("ct_state requires new both set and clear"));
  CHECK_THAT(
      errorOf(
          at(pipeline, Table::kConntrackState).matchMark(kFromPod).matchMark(kFromTunnel).build()),
      Contains("PacketSource (reg0[0..3]) conflicts with another match"));
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState).matchPktMark(0x100, 0xff).build()),
             Contains("sets bits outside its mask"));
}

TEST_CASE("learn needs a table of the pipeline, a priority and prerequisites in order", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  auto learn = [&](const LearnAction& action) {
    return errorOf(
        at(pipeline, Table::kClassifier).matchProtocol(Protocol::kArp).learn(action).build());
  };
  CHECK_THAT(learn(LearnAction().priority(1)), Contains("learn: no table"));
  CHECK_THAT(learn(LearnAction().table(Table::kPhysicalClassifier).priority(1)),
             Contains("not in this bridge's pipeline"));
  CHECK_THAT(learn(LearnAction().table(Table::kClassifier)), Contains("learn: no priority"));
  CHECK_THAT(learn(LearnAction().table(Table::kClassifier).priority(1).match(kArpTpa, "10.0.0.1")),
             Contains("set matchEthType(0x806) first"));
  CHECK_THAT(learn(LearnAction()
                       .table(Table::kClassifier)
                       .priority(1)
                       .matchEthType(0x806)
                       .match(kArpTpa, "10.0.0")),
             Contains("learn arp_tpa: IPv4 address \"10.0.0\""));
}

TEST_CASE("bad addresses are rejected with the value and the fix", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  CHECK_THAT(errorOf(at(pipeline, Table::kL3Forwarding)
                         .matchProtocol(Protocol::kIp)
                         .matchIpDst("10.1.2.3/8")
                         .build()),
             Contains("has host bits set; did you mean 10.0.0.0/8?"));
  CHECK_THAT(errorOf(at(pipeline, Table::kL3Forwarding)
                         .matchProtocol(Protocol::kIp)
                         .matchIpDst("10.1.2")
                         .build()),
             Contains("must be a dotted quad"));
  CHECK_THAT(errorOf(at(pipeline, Table::kL3Forwarding)
                         .matchProtocol(Protocol::kIp)
                         .matchIpDst("10.1.2.256")
                         .build()),
             Contains("from 0 to 255"));
  CHECK_THAT(errorOf(at(pipeline, Table::kL3Forwarding).matchEthDst("aa:bb:cc:dd:ee").build()),
             Contains("must look like aa:bb:cc:dd:ee:ff"));
  CHECK_THAT(errorOf(at(pipeline, Table::kL3Forwarding).setTunnelDst("node-2").build()),
             Contains("set_field tun_dst: IPv4 address \"node-2\""));
}

TEST_CASE("ct needs a zone, commit for new bindings and marks, and ct_mark is written only in ct",
          "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackZone)
                         .matchProtocol(Protocol::kIp)
                         .ct(CtAction().nat())
                         .build()),
             Contains("ct: no zone"));
  CHECK_THAT(errorOf(at(pipeline, Table::kSnat)
                         .matchProtocol(Protocol::kIp)
                         .ct(CtAction().zone(1).natSrc("192.0.2.1"))
                         .build()),
             Contains("needs commit"));
  CHECK_THAT(errorOf(at(pipeline, Table::kSnat)
                         .matchProtocol(Protocol::kIp)
                         .ct(CtAction().zone(1).loadMark(kCtEgressSnatMark))
                         .build()),
             Contains("ct_mark is only stored on commit"));
  CHECK_THAT(errorOf(at(pipeline, Table::kSnat)
                         .matchProtocol(Protocol::kIp)
                         .ct(CtAction().commit().zone(1).loadMark(kFromPod))
                         .build()),
             Contains("only ct_mark fields can be set in ct exec"));
  CHECK_THAT(errorOf(at(pipeline, Table::kSnat).loadMark(kCtEgressSnatMark).build()),
             Contains("ct_mark can only be written inside ct(commit,exec(...))"));
  CHECK_THAT(errorOf(at(pipeline, Table::kSnat)
                         .ct(CtAction().commit().zone(1).natSrc("192.0.2.9-192.0.2.1"))
                         .build()),
             Contains("ends before it starts"));
  CHECK_THAT(errorOf(at(pipeline, Table::kSnat).ct(CtAction().zoneFrom(kEgressId)).build()),
             Contains("must be a 16-bit register field"));
}

TEST_CASE("actions whose fields need a protocol match are rejected without it", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  CHECK_THAT(
      errorOf(at(pipeline, Table::kConntrackZone).ct(CtAction().zone(kDefaultCtZone)).build()),
      Contains("action \"ct(zone=65520)\" needs an IPv4 protocol"));
  CHECK_THAT(errorOf(at(pipeline, Table::kL3DecTtl).matchProtocol(Protocol::kArp).decTtl().build()),
             Contains("action \"dec_ttl\" needs an IPv4 protocol"));
  CHECK_THAT(errorOf(at(pipeline, Table::kL3Forwarding).setField(kIpDst, "10.0.0.1").build()),
             Contains("set_field:10.0.0.1->ip_dst\" needs an IPv4 protocol"));
  CHECK_THAT(errorOf(at(pipeline, Table::kArpResponder)
                         .matchProtocol(Protocol::kIp)
                         .arpReply("aa:bb:cc:dd:ee:01", "10.0.0.1")
                         .build()),
             Contains("action \"set_field:0x2->arp_op\" needs matchProtocol(Protocol::kArp), but "
                      "the flow matches ip"));
  CHECK_THAT(errorOf(at(pipeline, Table::kArpResponder).move(kArpSpa, kEgressId).build()),
             Contains("needs matchProtocol(Protocol::kArp), but no protocol is set"));
  CHECK_THAT(errorOf(at(pipeline, Table::kConntrackState)
                         .matchProtocol(Protocol::kIp)
                         .matchCtState(CtState().with(CtFlag::kInv).with(CtFlag::kTrk))
                         .ct(CtAction().commit().zone(kDefaultCtZone))
                         .build()),
             Contains("invalid connections cannot be committed"));
  // Fields without prerequisites need no protocol.
  CHECK(at(pipeline, Table::kL3Forwarding)
            .setTunnelDst("192.168.1.2")
            .modDlSrc("aa:bb:cc:dd:ee:01")
            .build()
            .ok());
  CHECK(
      at(pipeline, Table::kL3Forwarding).move(Subfield(kTunnelId, 0, 31), kEgressId).build().ok());
}

TEST_CASE("action ordering rules: nothing after goto_table, drop alone", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  CHECK_THAT(
      errorOf(at(pipeline, Table::kClassifier).gotoTable(Table::kSpoofGuard).output(3).build()),
      Contains("action \"output:3\" follows \"goto_table:1\""));
  CHECK_THAT(errorOf(at(pipeline, Table::kClassifier).output(3).drop().build()),
             Contains("drop must be the only action"));
  CHECK_THAT(errorOf(at(pipeline, Table::kClassifier).output(0).build()),
             Contains("output:0 is not a port number"));
  CHECK_THAT(
      errorOf(at(pipeline, Table::kClassifier).outputField(testing::kTestCtFromGateway).build()),
      Contains("only register fields can hold a port"));
  CHECK_THAT(errorOf(at(pipeline, Table::kClassifier).move(kPacketSource, kEgressId).build()),
             Contains("the source has 4 bits and the destination 32"));
  CHECK_THAT(errorOf(at(pipeline, Table::kClassifier).move(kEgressId, kCtEgressSnat).build()),
             Contains("ct_mark can only be written inside ct"));
}

TEST_CASE("a flow without a priority is rejected; all problems are reported together", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  auto message =
      errorOf(FlowBuilder(pipeline.table(Table::kOutput)).matchTcpDst(80).output(0).build());
  CHECK_THAT(message, Contains("flow in table Output (id 14), no priority, match \"tp_dst=80\""));
  CHECK_THAT(message, Contains("no priority; call priority()"));
  CHECK_THAT(message, Contains("tcp_dst needs"));
  CHECK_THAT(message, Contains("output:0"));
}

TEST_CASE("the rendered match does not depend on call order", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  auto first = at(pipeline, Table::kEgressMark)
                   .matchProtocol(Protocol::kTcp)
                   .matchIpSrc("10.244.1.5")
                   .matchMark(kFromPod)
                   .matchTcpDst(80)
                   .matchInPort(4)
                   .build();
  auto second = at(pipeline, Table::kEgressMark)
                    .matchTcpDst(80)
                    .matchInPort(4)
                    .matchMark(kFromPod)
                    .matchIpSrc("10.244.1.5")
                    .matchProtocol(Protocol::kTcp)
                    .build();
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(*first == *second);
  CHECK(first->match == "tcp,in_port=4,reg0=0x1/0xf,nw_src=10.244.1.5,tp_dst=80");
}

// A miniature Egress feature written the way agent features are: it declares its tables and
// returns its flows; the test compares them as an unordered set.
struct EgressNode {
  std::string egressIp;
  std::string egressMac;
  std::uint32_t egressId;
  std::string podCidr;
  Cookie cookie;
};

void declareEgressNodeTables(PipelineBuilder& builder) {
  builder.declare("egress", {Table::kArpResponder, Table::kUnSnat, Table::kEgressMark, Table::kSnat,
                             Table::kConntrackCommit});
}

Result<std::vector<Flow>> egressNodeFlows(const Pipeline& pipeline, const EgressNode& egress) {
  auto flow = [&](Table table, std::uint16_t priority) {
    return std::move(FlowBuilder(pipeline.table(table)).priority(priority).cookie(egress.cookie));
  };
  return collectFlows({
      flow(Table::kArpResponder, 200)
          .matchProtocol(Protocol::kArp)
          .matchArpOp(1)
          .matchArpTpa(egress.egressIp)
          .arpReply(egress.egressMac, egress.egressIp)
          .build(),
      flow(Table::kUnSnat, 200)
          .matchProtocol(Protocol::kIp)
          .matchIpDst(egress.egressIp)
          .ct(CtAction().zone(kSnatCtZone).nat().table(Table::kEgressMark))
          .build(),
      flow(Table::kEgressMark, 200)
          .matchProtocol(Protocol::kIp)
          .matchIpSrc(egress.podCidr)
          .loadMark(kSnatHere)
          .load(kEgressId, egress.egressId)
          .gotoNextTable()
          .build(),
      flow(Table::kSnat, 200)
          .matchProtocol(Protocol::kIp)
          .matchMark(kSnatHere)
          .matchField(kEgressId, egress.egressId)
          .ct(CtAction()
                  .commit()
                  .zone(kSnatCtZone)
                  .natSrc(egress.egressIp)
                  .loadMark(kCtEgressSnatMark)
                  .table(Table::kConntrackCommit))
          .build(),
  });
}

std::set<std::string> renderAll(const std::vector<Flow>& flows) {
  std::set<std::string> lines;
  for (const auto& flow : flows) lines.insert(renderFlow(flow));
  return lines;
}

TEST_CASE("a feature's flows match their golden strings as an unordered set", "[unit]") {
  const EgressNode egress{"192.0.2.10", "aa:bb:cc:dd:ee:01", 70000, "10.244.0.0/16",
                          Cookie{3, Category::kEgress, 0xabc}};
  PipelineBuilder builder;
  declareEgressNodeTables(builder);
  Pipeline pipeline = builder.build();
  auto flows = egressNodeFlows(pipeline, egress);
  if (!flows.ok()) FAIL(flows.error().message);
  // Classifier 0, ARPResponder 1, UnSNAT 2, EgressMark 3, SNAT 4, ConntrackCommit 5.
  std::set<std::string> expected = {
      "table=1,priority=200,cookie=0x3060000000abc,arp,arp_op=1,arp_tpa=192.0.2.10 "
      "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:aa:bb:cc:dd:ee:01->eth_src,set_"
      "field:0x2->arp_op,"
      "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:aa:bb:cc:dd:ee:01->arp_sha,"
      "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:192.0.2.10->arp_spa,IN_PORT",
      "table=4,priority=200,cookie=0x3060000000abc,ip,reg0=0x200/0x200,reg2=0x11170 "
      "actions=ct(commit,zone=65521,nat(src=192.0.2.10),exec(load:0x1->NXM_NX_CT_MARK[1]),table=5)",
      "table=2,priority=200,cookie=0x3060000000abc,ip,nw_dst=192.0.2.10 "
      "actions=ct(zone=65521,nat,table=3)",
      "table=3,priority=200,cookie=0x3060000000abc,ip,nw_src=10.244.0.0/16 "
      "actions=load:0x1->NXM_NX_REG0[9],load:0x11170->NXM_NX_REG2[],goto_table:4",
  };
  CHECK(renderAll(*flows) == expected);
}

TEST_CASE("owner cookies from makeOwnerCookie are stable hashes of the owner key", "[unit]") {
  constexpr Cookie kCookie = makeOwnerCookie(Category::kPod, "pod/default/web-1");
  CHECK(kCookie.round == 0);
  CHECK(kCookie.category == Category::kPod);
  CHECK(kCookie.ownerHash == (stableHash("pod/default/web-1") & Cookie::kOwnerMask));
  CHECK(makeOwnerCookie(Category::kPod, "pod/default/web-2").ownerHash != kCookie.ownerHash);
}

TEST_CASE("collectFlows reports every failed flow", "[unit]") {
  Pipeline pipeline = testing::fullPipeline();
  auto result = collectFlows({at(pipeline, Table::kOutput).output(1).build(),
                              at(pipeline, Table::kOutput, 1).output(0).build(),
                              at(pipeline, Table::kOutput, 2).load(kPacketSource, 99).build()});
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error().message, Contains("priority 1"));
  CHECK_THAT(result.error().message, Contains("priority 2"));
}

}  // namespace
}  // namespace sluice::ofrules
