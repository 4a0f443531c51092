// Golden flows covering every match and action the builder offers.
#include "golden_cases.h"

#include "ofrules/fields.h"
#include "ofrules/flow_builder.h"

namespace sluice::ofrules::testing {
namespace {

constexpr const char* kCookie = "cookie=0x1ff0000000042";

std::string line(int table, int priority, const std::string& rest) {
  return "table=" + std::to_string(table) + ",priority=" + std::to_string(priority) + "," +
         kCookie + rest;
}

}  // namespace

Pipeline fullPipeline() {
  PipelineBuilder builder;
  std::vector<Table> all;
  for (std::size_t i = 0; i < kTableCount; ++i) all.push_back(static_cast<Table>(i));
  builder.declare("test", all);
  return builder.build();
}

Cookie goldenCookie() { return Cookie{1, Category::kTest, 0x42}; }

std::vector<GoldenFlow> goldenFlows(const Pipeline& pipeline) {
  auto flow = [&](Table table, int priority) {
    return FlowBuilder(pipeline.table(table))
        .priority(static_cast<std::uint16_t>(priority))
        .cookie(goldenCookie());
  };
  std::vector<GoldenFlow> cases;
  auto add = [&](std::string name, Result<Flow> built, std::string expected) {
    cases.push_back(GoldenFlow{std::move(name), std::move(built), std::move(expected)});
  };

  // ---- matches ----
  add("empty match, drop", flow(Table::kClassifier, 0).build(), line(0, 0, " actions=drop"));
  add("in_port",
      flow(Table::kClassifier, 200)
          .matchInPort(3)
          .loadMark(kFromPod)
          .gotoTable(Table::kSpoofGuard)
          .build(),
      line(0, 200, ",in_port=3 actions=load:0x1->NXM_NX_REG0[0..3],goto_table:1"));
  add("eth src/dst/type",
      flow(Table::kConntrackCommit, 200)
          .matchEthSrc("AA:BB:CC:00:00:01")
          .matchEthDst("01:00:00:00:00:00/01:00:00:00:00:00")
          .matchEthType(0x88cc)
          .drop()
          .build(),
      line(13, 200,
           ",dl_src=aa:bb:cc:00:00:01,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,dl_type=0x88cc "
           "actions=drop"));
  add("arp op/spa/tpa/sha/tha",
      flow(Table::kSpoofGuard, 200)
          .matchProtocol(Protocol::kArp)
          .matchInPort(5)
          .matchArpOp(1)
          .matchArpSpa("10.244.1.5")
          .matchArpTpa("10.244.1.0/24")
          .matchArpSha("aa:bb:cc:00:00:05")
          .matchArpTha("00:00:00:00:00:00")
          .gotoTable(Table::kArpResponder)
          .build(),
      line(1, 200,
           ",arp,in_port=5,arp_op=1,arp_spa=10.244.1.5,arp_tpa=10.244.1.0/"
           "24,arp_sha=aa:bb:cc:00:00:05,"
           "arp_tha=00:00:00:00:00:00 actions=goto_table:2"));
  add("ip src/dst with masks",
      flow(Table::kL3Forwarding, 200)
          .matchProtocol(Protocol::kIp)
          .matchIpDst("10.244.2.0/24")
          .matchIpSrc("10.0.0.0/8")
          .gotoNextTable()
          .build(),
      line(9, 200, ",ip,nw_src=10.0.0.0/8,nw_dst=10.244.2.0/24 actions=goto_table:10"));
  add("ip /0 is no match",
      flow(Table::kL3Forwarding, 10).matchProtocol(Protocol::kIp).matchIpDst("0.0.0.0/0").build(),
      line(9, 10, ",ip actions=drop"));
  add("ip proto",
      flow(Table::kSpoofGuard, 100).matchProtocol(Protocol::kIp).matchIpProto(132).drop().build(),
      line(1, 100, ",ip,nw_proto=132 actions=drop"));
  add("tcp ports",
      flow(Table::kConntrackState, 100)
          .matchProtocol(Protocol::kTcp)
          .matchTcpDst(443)
          .matchTcpSrc(1024)
          .gotoTable(Table::kL3Forwarding)
          .build(),
      line(5, 100, ",tcp,tp_src=1024,tp_dst=443 actions=goto_table:9"));
  add("udp ports",
      flow(Table::kConntrackState, 100)
          .matchProtocol(Protocol::kUdp)
          .matchUdpDst(53)
          .drop()
          .build(),
      line(5, 100, ",udp,tp_dst=53 actions=drop"));
  add("icmp",
      flow(Table::kConntrackState, 90)
          .matchProtocol(Protocol::kIcmp)
          .matchIpSrc("10.244.1.5")
          .drop()
          .build(),
      line(5, 90, ",icmp,nw_src=10.244.1.5 actions=drop"));
  add("register fields combine per register",
      flow(Table::kOutput, 200)
          .matchMark(kOfPortFound)
          .matchMark(kFromTunnel)
          .matchField(kEgressId, 70000)
          .outputField(kTargetOfPort)
          .build(),
      line(14, 200, ",reg0=0x102/0x10f,reg2=0x11170 actions=output:NXM_NX_REG1[]"));
  add("ct_state, ct_mark, ct_zone",
      flow(Table::kConntrackState, 200)
          .matchProtocol(Protocol::kIp)
          .matchCtState(CtState().with(CtFlag::kTrk).without(CtFlag::kNew).with(CtFlag::kRpl))
          .matchMark(kCtEgressSnatMark)
          .matchCtZone(kSnatCtZone)
          .gotoTable(Table::kL3Forwarding)
          .build(),
      line(5, 200, ",ip,ct_state=-new+rpl+trk,ct_mark=0x2/0x2,ct_zone=65521 actions=goto_table:9"));
  add("full ct_mark bits",
      flow(Table::kConntrackState, 190)
          .matchMark(kTestCtFromGatewayMark)
          .matchField(kCtEgressSnat, 0)
          .drop()
          .build(),
      line(5, 190, ",ct_mark=0x1/0x3 actions=drop"));
  add("ct_state invalid",
      flow(Table::kConntrackState, 190)
          .matchProtocol(Protocol::kIp)
          .matchCtState(CtState().with(CtFlag::kInv).with(CtFlag::kTrk))
          .drop()
          .build(),
      line(5, 190, ",ip,ct_state=+inv+trk actions=drop"));
  add("tunnel id/src/dst",
      flow(Table::kClassifier, 200)
          .matchInPort(2)
          .matchTunnelId(0x1234)
          .matchTunnelSrc("192.168.1.11")
          .matchTunnelDst("192.168.1.12")
          .loadMark(kFromTunnel)
          .gotoTable(Table::kUnSnat)
          .build(),
      line(0, 200,
           ",in_port=2,tun_id=0x1234,tun_src=192.168.1.11,tun_dst=192.168.1.12 "
           "actions=load:0x2->NXM_NX_REG0[0..3],goto_table:3"));
  add("pkt_mark", flow(Table::kL3DecTtl, 100).matchPktMark(0x10, 0xf0).drop().build(),
      line(11, 100, ",pkt_mark=0x10/0xf0 actions=drop"));
  add("pkt_mark exact", flow(Table::kL3DecTtl, 100).matchPktMark(7).drop().build(),
      line(11, 100, ",pkt_mark=0x7 actions=drop"));

  // ---- actions ----
  add("output, in_port, local, normal",
      flow(Table::kOutput, 100)
          .matchInPort(1)
          .output(7)
          .outputInPort()
          .outputLocal()
          .normal()
          .build(),
      line(14, 100, ",in_port=1 actions=output:7,IN_PORT,LOCAL,NORMAL"));
  add("in_port=LOCAL",
      flow(Table::kClassifier, 150)
          .matchProtocol(Protocol::kIp)
          .matchInPortLocal()
          .output(1)
          .build(),
      line(0, 150, ",ip,in_port=LOCAL actions=output:1"));
  add("learn a drop",
      flow(Table::kClassifier, 140)
          .matchProtocol(Protocol::kArp)
          .matchArpOp(1)
          .learn(LearnAction()
                     .table(Table::kClassifier)
                     .priority(145)
                     .cookie(0x42)
                     .deleteLearned()
                     .matchEthType(0x806)
                     .match(kInPort, 1)
                     .match(kArpOp, 1)
                     .match(kArpTpa, "10.10.0.8"))
          .normal()
          .build(),
      line(0, 140,
           ",arp,arp_op=1 actions=learn(table=0,priority=145,delete_learned,cookie=0x42,"
           "eth_type=0x806,in_port=1,arp_op=1,arp_tpa=10.10.0.8),NORMAL"));
  add("output to a register range",
      flow(Table::kOutput, 90)
          .matchMark(kOfPortFound)
          .outputField(Field{"Port16", FieldSpace::kRegister, 5, 0, 15, "test"})
          .build(),
      line(14, 90, ",reg0=0x100/0x100 actions=output:NXM_NX_REG5[0..15]"));
  add("controller, plain",
      flow(Table::kOutput, 80).matchProtocol(Protocol::kArp).controller().build(),
      line(14, 80, ",arp actions=controller"));
  add("controller with options",
      flow(Table::kOutput, 70)
          .matchProtocol(Protocol::kIp)
          .controller(ControllerOptions{.maxLen = 128,
                                        .reason = ControllerReason::kNoMatch,
                                        .userdata = {0x01, 0xab},
                                        .pause = true})
          .build(),
      line(14, 70, ",ip actions=controller(max_len=128,reason=no_match,userdata=01.ab,pause)"));
  add("resubmit",
      flow(Table::kL3Forwarding, 100)
          .matchProtocol(Protocol::kIp)
          .decTtl()
          .resubmit(Table::kConntrackCommit)
          .build(),
      line(9, 100, ",ip actions=dec_ttl,resubmit(,13)"));
  add("load, move",
      flow(Table::kConntrackCommit, 200)
          .matchEthDst("aa:bb:cc:00:00:05")
          .load(kTargetOfPort, 5)
          .loadMark(kOfPortFound)
          .move(kPacketSource, kTestPacketDestination)
          .move(kInPort, Subfield(kTargetOfPort.nxmName(), 0, 15, 32))
          .gotoTable(Table::kOutput)
          .build(),
      line(13, 200,
           ",dl_dst=aa:bb:cc:00:00:05 actions=load:0x5->NXM_NX_REG1[],load:0x1->NXM_NX_REG0[8],"
           "move:NXM_NX_REG0[0..3]->NXM_NX_REG0[4..7],move:NXM_OF_IN_PORT[]->NXM_NX_REG1[0..15],"
           "goto_table:14"));
  add("set_field header fields, tunnel dst, group",
      flow(Table::kL3Forwarding, 190)
          .matchProtocol(Protocol::kIp)
          .matchIpDst("10.244.2.0/24")
          .modDlSrc("aa:bb:cc:00:00:01")
          .modDlDst("AA:BB:CC:00:00:02")
          .setTunnelDst("192.168.1.12")
          .setTunnelId(0x1234)
          .setField(kIpDst, "10.244.2.7")
          .setField(kPktMark, 0x1)
          .group(7)
          .build(),
      line(9, 190,
           ",ip,nw_dst=10.244.2.0/24 "
           "actions=mod_dl_src:aa:bb:cc:00:00:01,mod_dl_dst:aa:bb:cc:00:00:02,"
           "set_field:192.168.1.12->tun_dst,set_field:0x1234->tun_id,set_field:10.244.2.7->ip_dst,"
           "set_field:0x1->pkt_mark,group:7"));
  add("ct commit with SNAT, mark and table",
      flow(Table::kSnat, 200)
          .matchProtocol(Protocol::kIp)
          .matchMark(kSnatHere)
          .matchField(kEgressId, 3)
          .matchCtState(CtState().with(CtFlag::kNew).with(CtFlag::kTrk))
          .ct(CtAction()
                  .commit()
                  .zone(kSnatCtZone)
                  .natSrc("192.0.2.10")
                  .loadMark(kCtEgressSnatMark)
                  .table(Table::kConntrackCommit))
          .build(),
      line(12, 200,
           ",ip,reg0=0x200/0x200,reg2=0x3,ct_state=+new+trk "
           "actions=ct(commit,zone=65521,nat(src=192.0.2.10),exec(load:0x1->NXM_NX_CT_MARK[1]),"
           "table=13)"));
  add("ct un-NAT",
      flow(Table::kUnSnat, 200)
          .matchProtocol(Protocol::kIp)
          .matchIpDst("192.0.2.10")
          .ct(CtAction().zone(kSnatCtZone).nat().table(Table::kConntrackZone))
          .build(),
      line(3, 200, ",ip,nw_dst=192.0.2.10 actions=ct(zone=65521,nat,table=4)"));
  add("ct track in default zone",
      flow(Table::kConntrackZone, 200)
          .matchProtocol(Protocol::kIp)
          .ct(CtAction().zone(kDefaultCtZone).nat().table(Table::kConntrackState))
          .build(),
      line(4, 200, ",ip actions=ct(zone=65520,nat,table=5)"));
  add("ct commit, zone from register, nat range, dst",
      flow(Table::kConntrackCommit, 200)
          .matchProtocol(Protocol::kIp)
          .matchCtState(CtState().with(CtFlag::kNew).with(CtFlag::kTrk))
          .ct(CtAction()
                  .commit()
                  .zoneFrom(Field{"Zone", FieldSpace::kRegister, 5, 0, 15, "test"})
                  .natDst("10.96.0.1-10.96.0.3"))
          .gotoTable(Table::kOutput)
          .build(),
      line(
          13, 200,
          ",ip,ct_state=+new+trk "
          "actions=ct(commit,zone=NXM_NX_REG5[0..15],nat(dst=10.96.0.1-10.96.0.3)),goto_table:14"));
  add("ct commit with two marks",
      flow(Table::kConntrackCommit, 190)
          .matchProtocol(Protocol::kIp)
          .matchMark(kFromGateway)
          .ct(CtAction()
                  .commit()
                  .zone(kDefaultCtZone)
                  .loadMark(kTestCtFromGatewayMark)
                  .load(kCtEgressSnat, 0))
          .gotoTable(Table::kOutput)
          .build(),
      line(13, 190,
           ",ip,reg0=0x3/0xf actions=ct(commit,zone=65520,exec(load:0x1->NXM_NX_CT_MARK[0],"
           "load:0x0->NXM_NX_CT_MARK[1])),goto_table:14"));
  add("ARP responder",
      flow(Table::kArpResponder, 200)
          .matchProtocol(Protocol::kArp)
          .matchArpOp(1)
          .matchArpTpa("192.0.2.10")
          .arpReply("aa:bb:cc:dd:ee:01", "192.0.2.10")
          .build(),
      line(2, 200,
           ",arp,arp_op=1,arp_tpa=192.0.2.10 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
           "set_field:aa:bb:cc:dd:ee:01->eth_src,set_field:0x2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_"
           "NX_ARP_THA[],"
           "set_field:aa:bb:cc:dd:ee:01->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
           "set_field:192.0.2.10->arp_spa,IN_PORT"));
  return cases;
}

}  // namespace sluice::ofrules::testing
