// Unit tests of the OVSDB client's pure parts: value encoding, snapshot parsing, stream
// splitting and transaction planning (desired state -> RFC 7047 operations).
#include <catch2/catch.hpp>

#include <deque>

#include "ovsdb/ovsdb_client.h"
#include "ovsdb/ovsdb_json.h"
#include "ovsdb/transaction_plan.h"
#include "ovsdb/transport.h"

namespace {

using namespace sluice::ovsdb;

// br-int (uuid b1) with its local port and tun0 (ofport_request 1), gw0 (ofport_request 2).
Snapshot sampleSnapshot() {
  Snapshot snapshot;
  snapshot.root = OpenVswitchRow{.uuid = "root",
                                 .bridges = {"b1"},
                                 .externalIds = {},
                                 .otherConfig = {},
                                 .nextCfg = 0,
                                 .curCfg = 0};
  snapshot.bridges.push_back(BridgeRow{.uuid = "b1",
                                       .name = "br-int",
                                       .ports = {"p0", "p1", "p2"},
                                       .datapathType = "netdev",
                                       .failMode = "secure",
                                       .protocols = {"OpenFlow10", "OpenFlow13", "OpenFlow15"},
                                       .otherConfig = {{"disable-in-band", "true"}},
                                       .externalIds = {{"foreign", "keep"}}});
  snapshot.ports = {
      PortRow{.uuid = "p0", .name = "br-int", .interfaces = {"i0"}, .externalIds = {}},
      PortRow{.uuid = "p1", .name = "tun0", .interfaces = {"i1"}, .externalIds = {}},
      PortRow{.uuid = "p2", .name = "gw0", .interfaces = {"i2"}, .externalIds = {}}};
  snapshot.interfaces = {InterfaceRow{.uuid = "i0",
                                      .name = "br-int",
                                      .type = "internal",
                                      .options = {},
                                      .ofport = 65534,
                                      .ofportRequest = {},
                                      .mtuRequest = {},
                                      .externalIds = {},
                                      .error = {}},
                         InterfaceRow{.uuid = "i1",
                                      .name = "tun0",
                                      .type = "geneve",
                                      .options = {{"key", "flow"}, {"remote_ip", "flow"}},
                                      .ofport = 1,
                                      .ofportRequest = 1,
                                      .mtuRequest = {},
                                      .externalIds = {},
                                      .error = {}},
                         InterfaceRow{.uuid = "i2",
                                      .name = "gw0",
                                      .type = "internal",
                                      .options = {},
                                      .ofport = 2,
                                      .ofportRequest = 2,
                                      .mtuRequest = 1450,
                                      .externalIds = {{"sluice/owner", "agent"}},
                                      .error = {}}};
  return snapshot;
}

BridgeOptions brInt() {
  return BridgeOptions{.name = "br-int",
                       .datapathType = DatapathType::kNetdev,
                       .failMode = FailMode::kSecure,
                       .protocols = {"OpenFlow15", "OpenFlow13", "OpenFlow10"},
                       .otherConfig = {{"disable-in-band", "true"}},
                       .externalIds = {}};
}

PortOptions gw0() {
  return PortOptions{.bridge = "br-int",
                     .name = "gw0",
                     .type = PortType::kInternal,
                     .geneve = {},
                     .patchPeer = "",
                     .ofportRequest = 2,
                     .mtuRequest = 1450,
                     .externalIds = {{"sluice/owner", "agent"}}};
}

Json mustPlan(const sluice::Result<Json>& plan) {
  if (!plan) FAIL(plan.error().message);
  return *plan;
}

}  // namespace

TEST_CASE("OVSDB values encode and decode as RFC 7047 says", "[unit]") {
  REQUIRE(encodeMap({{"a", "1"}, {"b", "2"}}) == Json::parse(R"(["map",[["a","1"],["b","2"]]])"));
  REQUIRE(encodeMap({}) == Json::parse(R"(["map",[]])"));
  REQUIRE(encodeOptionalInteger(std::nullopt) == Json::parse(R"(["set",[]])"));
  REQUIRE(encodeOptionalInteger(7) == Json(7));
  // A one-element set may arrive as the bare atom, a uuid as ["uuid", ...].
  REQUIRE(decodeUuidSet(Json::parse(R"(["uuid","u1"])")) == std::vector<std::string>{"u1"});
  REQUIRE(decodeUuidSet(Json::parse(R"(["set",[["uuid","u1"],["uuid","u2"]]])")) ==
          std::vector<std::string>{"u1", "u2"});
  REQUIRE(decodeStringSet(Json("OpenFlow15")) == std::vector<std::string>{"OpenFlow15"});
  REQUIRE(decodeOptionalInteger(Json::parse(R"(["set",[]])")) == std::nullopt);
  REQUIRE(decodeOptionalInteger(Json(3)) == 3);
  REQUIRE(decodeMap(Json::parse(R"(["map",[["k","v"]]])")) == StringMap{{"k", "v"}});
  REQUIRE_THROWS(decodeMap(Json("oops")));
}

TEST_CASE("a snapshot parses from select results and reports a missing root row", "[unit]") {
  Json results = Json::parse(R"([
    {"rows":[{"_uuid":["uuid","r"],"bridges":["uuid","b1"],"external_ids":["map",[]],
              "other_config":["map",[["flow-restore-wait","true"]]],"next_cfg":3,"cur_cfg":3}]},
    {"rows":[{"_uuid":["uuid","b1"],"name":"br-int","ports":["set",[["uuid","p1"]]],
              "datapath_type":"netdev","fail_mode":"secure",
              "protocols":["set",["OpenFlow15","OpenFlow13"]],"other_config":["map",[]],
              "external_ids":["map",[]]}]},
    {"rows":[{"_uuid":["uuid","p1"],"name":"br-int","interfaces":["uuid","i1"],
              "external_ids":["map",[]]}]},
    {"rows":[{"_uuid":["uuid","i1"],"name":"br-int","type":"internal","options":["map",[]],
              "ofport":["set",[]],"ofport_request":["set",[]],"mtu_request":1400,
              "external_ids":["map",[]],"error":["set",[]]}]}])");
  auto snapshot = parseSnapshot(results);
  REQUIRE(snapshot.ok());
  REQUIRE(snapshot->root.otherConfig.at("flow-restore-wait") == "true");
  REQUIRE(snapshot->findBridge("br-int")->protocols ==
          std::vector<std::string>{"OpenFlow13", "OpenFlow15"});
  REQUIRE(snapshot->bridgeOfPort("p1")->name == "br-int");
  const InterfaceRow* row = snapshot->findInterface("br-int");
  REQUIRE(row->ofport == std::nullopt);
  REQUIRE(row->mtuRequest == 1400);

  results[0]["rows"] = Json::array();
  auto empty = parseSnapshot(results);
  REQUIRE_FALSE(empty.ok());
  REQUIRE_THAT(empty.error().message, Catch::Contains("ovs-vsctl --no-wait init"));
  REQUIRE_FALSE(parseSnapshot(Json::parse("[{}]")).ok());
}

TEST_CASE("the JSON stream splitter finds messages sent back to back", "[unit]") {
  std::string stream = R"({"id":1,"result":["a}",{"b":"\"]"}]}  {"id":2,"x":[[],{}]})"
                       "\n"
                       R"({"method":"echo"})";
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{7}, stream.size()}) {
    CAPTURE(chunk);
    JsonStreamSplitter splitter;
    std::vector<std::string> messages;
    for (size_t i = 0; i < stream.size(); i += chunk) {
      splitter.feed(std::string_view(stream).substr(i, chunk));
      while (auto text = splitter.next()) messages.push_back(*text);
    }
    REQUIRE(messages.size() == 3);
    REQUIRE(Json::parse(messages[0])["result"][1]["b"] == "\"]");
    REQUIRE(Json::parse(messages[1])["id"] == 2);
    REQUIRE(Json::parse(messages[2])["method"] == "echo");
    REQUIRE(splitter.buffered() == 0);
  }
}

TEST_CASE("targeted reads select only the rows one port needs", "[unit]") {
  PortOptions port = gw0();
  Json query = portQuery(port);
  REQUIRE(query.size() == 5);
  REQUIRE(query[0]["where"] == Json::parse(R"([["name","==","br-int"]])"));
  REQUIRE(query[3]["where"] == Json::parse(R"([["ofport_request","==",2]])"));
  REQUIRE(query[4]["where"] == Json::parse(R"([["ofport","==",2]])"));
  port.ofportRequest = std::nullopt;
  REQUIRE(portQuery(port).size() == 3);

  // A partial snapshot: the port exists, and tun0's interface answered the ofport query.
  Snapshot full = sampleSnapshot();
  Snapshot partial;
  partial.bridges = {full.bridges[0]};
  partial.ports = {full.ports[2]};
  partial.interfaces = {full.interfaces[2], full.interfaces[1]};
  Json followUp = portFollowUpQuery(partial, gw0());
  REQUIRE(followUp == Json::parse(R"([
    {"op":"select","table":"Bridge","where":[["ports","includes",["uuid","p2"]]],
     "columns":["_uuid","name","ports","datapath_type","fail_mode","protocols","other_config",
                "external_ids"]},
    {"op":"select","table":"Port","where":[["interfaces","includes",["uuid","i1"]]],
     "columns":["_uuid","name","interfaces","external_ids"]}])"));
  // With the follow-up's rows merged in, the plan (and its error) matches the full snapshot's.
  Snapshot more;
  more.bridges = {full.bridges[0]};
  more.ports = {full.ports[1]};
  mergeSnapshot(partial, more);
  REQUIRE(partial.bridges.size() == 1);
  PortOptions conflicting = gw0();
  conflicting.ofportRequest = 1;
  REQUIRE(planEnsurePort(partial, conflicting).error().message ==
          planEnsurePort(full, conflicting).error().message);
  REQUIRE(mustPlan(planEnsurePort(partial, gw0())).empty());
  REQUIRE(portFollowUpQuery(Snapshot{}, gw0()).empty());
}

TEST_CASE("a new bridge is inserted with its local port and linked to Open_vSwitch", "[unit]") {
  Snapshot snapshot = sampleSnapshot();
  BridgeOptions bridge = brInt();
  bridge.name = "br-phy";
  bridge.externalIds = {{"sluice/owner", "agent"}};
  Json plan = mustPlan(planEnsureBridge(snapshot, bridge));
  REQUIRE(plan == Json::parse(R"([
    {"op":"insert","table":"Interface","row":{"name":"br-phy","type":"internal"},
     "uuid-name":"newInterface"},
    {"op":"insert","table":"Port","row":{"name":"br-phy","interfaces":["named-uuid","newInterface"]},
     "uuid-name":"newPort"},
    {"op":"insert","table":"Bridge","row":{"name":"br-phy","ports":["named-uuid","newPort"],
     "datapath_type":"netdev","fail_mode":"secure",
     "protocols":["set",["OpenFlow10","OpenFlow13","OpenFlow15"]],
     "other_config":["map",[["disable-in-band","true"]]],
     "external_ids":["map",[["sluice/owner","agent"]]]},"uuid-name":"newBridge"},
    {"op":"mutate","table":"Open_vSwitch","where":[],
     "mutations":[["bridges","insert",["named-uuid","newBridge"]]]}])"));
}

TEST_CASE("ensuring a bridge that matches plans nothing; a difference plans only it", "[unit]") {
  Snapshot snapshot = sampleSnapshot();
  REQUIRE(mustPlan(planEnsureBridge(snapshot, brInt())).empty());

  BridgeOptions standalone = brInt();
  standalone.failMode = FailMode::kStandalone;
  REQUIRE(mustPlan(planEnsureBridge(snapshot, standalone)) == Json::parse(R"([
    {"op":"update","table":"Bridge","where":[["_uuid","==",["uuid","b1"]]],
     "row":{"fail_mode":"standalone"}}])"));

  // Map columns merge: only the changed key moves, the foreign key is not mentioned.
  BridgeOptions tagged = brInt();
  tagged.externalIds = {{"sluice/round", "4"}};
  REQUIRE(mustPlan(planEnsureBridge(snapshot, tagged)) == Json::parse(R"([
    {"op":"mutate","table":"Bridge","where":[["_uuid","==",["uuid","b1"]]],
     "mutations":[["external_ids","delete",["set",["sluice/round"]]],
                  ["external_ids","insert",["map",[["sluice/round","4"]]]]]}])"));
}

TEST_CASE("bridge options are validated with the field and the fix named", "[unit]") {
  BridgeOptions bridge = brInt();
  bridge.name = "br-much-too-long-name";
  auto longName = planEnsureBridge(sampleSnapshot(), bridge);
  REQUIRE_FALSE(longName.ok());
  REQUIRE_THAT(longName.error().message, Catch::Contains("at most 15"));
  bridge = brInt();
  bridge.protocols = {"OpenFlow16"};
  REQUIRE_THAT(validateBridge(bridge).error().message, Catch::Contains("OpenFlow16"));
  bridge.name = "gw0";  // a port of that name exists
  bridge.protocols = {"OpenFlow15"};
  REQUIRE_THAT(planEnsureBridge(sampleSnapshot(), bridge).error().message,
               Catch::Contains("a port of that name exists"));
}

TEST_CASE("a new port is inserted with its interface and added to the bridge", "[unit]") {
  PortOptions tunnel{.bridge = "br-int",
                     .name = "tun1",
                     .type = PortType::kGeneve,
                     .geneve = {.remoteIp = "flow",
                                .key = "flow",
                                .localIp = std::nullopt,
                                .destinationPort = std::nullopt,
                                .checksum = true},
                     .patchPeer = "",
                     .ofportRequest = 3,
                     .mtuRequest = std::nullopt,
                     .externalIds = {}};
  Json plan = mustPlan(planEnsurePort(sampleSnapshot(), tunnel));
  REQUIRE(plan == Json::parse(R"([
    {"op":"insert","table":"Interface","row":{"name":"tun1","type":"geneve",
     "options":["map",[["csum","true"],["key","flow"],["remote_ip","flow"]]],
     "external_ids":["map",[]],"ofport_request":3},"uuid-name":"newInterface"},
    {"op":"insert","table":"Port","row":{"name":"tun1","interfaces":["named-uuid","newInterface"]},
     "uuid-name":"newPort"},
    {"op":"mutate","table":"Bridge","where":[["_uuid","==",["uuid","b1"]]],
     "mutations":[["ports","insert",["named-uuid","newPort"]]]}])"));

  PortOptions patch{.bridge = "br-int",
                    .name = "patch-phy",
                    .type = PortType::kPatch,
                    .geneve = {},
                    .patchPeer = "patch-int",
                    .ofportRequest = std::nullopt,
                    .mtuRequest = std::nullopt,
                    .externalIds = {}};
  Json patchPlan = mustPlan(planEnsurePort(sampleSnapshot(), patch));
  REQUIRE(patchPlan[0]["row"]["type"] == "patch");
  REQUIRE(patchPlan[0]["row"]["options"] == Json::parse(R"(["map",[["peer","patch-int"]]])"));
  REQUIRE_FALSE(patchPlan[0]["row"].contains("ofport_request"));
}

TEST_CASE("ensuring a port that matches plans nothing; changes update only what differs",
          "[unit]") {
  Snapshot snapshot = sampleSnapshot();
  REQUIRE(mustPlan(planEnsurePort(snapshot, gw0())).empty());

  PortOptions changed = gw0();
  changed.mtuRequest = std::nullopt;  // absent means cleared
  changed.externalIds["sluice/pod"] = "default/web";
  REQUIRE(mustPlan(planEnsurePort(snapshot, changed)) == Json::parse(R"([
    {"op":"update","table":"Interface","where":[["_uuid","==",["uuid","i2"]]],
     "row":{"mtu_request":["set",[]]}},
    {"op":"mutate","table":"Interface","where":[["_uuid","==",["uuid","i2"]]],
     "mutations":[["external_ids","delete",["set",["sluice/pod"]]],
                  ["external_ids","insert",["map",[["sluice/pod","default/web"]]]]]}])"));
}

TEST_CASE("port conflicts are refused naming the port, the field and the fix", "[unit]") {
  Snapshot snapshot = sampleSnapshot();
  PortOptions port = gw0();
  port.ofportRequest = 1;
  auto taken = planEnsurePort(snapshot, port);
  REQUIRE_FALSE(taken.ok());
  REQUIRE(taken.error().message ==
          "port gw0 on br-int: ofport_request 1 is taken by port tun0; pick another");

  // An assigned ofport blocks a request too.
  snapshot.interfaces[1].ofportRequest = std::nullopt;
  REQUIRE(planEnsurePort(snapshot, port).error().message ==
          "port gw0 on br-int: ofport_request 1 is the ofport of port tun0; pick another");

  PortOptions elsewhere = gw0();
  elsewhere.bridge = "br-phy";
  REQUIRE_THAT(planEnsurePort(snapshot, elsewhere).error().message,
               Catch::Contains("bridge br-phy does not exist; ensure the bridge first"));
  snapshot.bridges.push_back(BridgeRow{.uuid = "b2",
                                       .name = "br-phy",
                                       .ports = {},
                                       .datapathType = "netdev",
                                       .failMode = "secure",
                                       .protocols = {},
                                       .otherConfig = {},
                                       .externalIds = {}});
  REQUIRE(planEnsurePort(snapshot, elsewhere).error().message ==
          "port gw0 on br-phy: the port exists on bridge br-int; delete it there first "
          "(deletePort(br-int, gw0))");
}

TEST_CASE("port options are validated", "[unit]") {
  PortOptions port = gw0();
  port.type = PortType::kPatch;
  REQUIRE_THAT(validatePort(port).error().message, Catch::Contains("set patchPeer"));
  port = gw0();
  port.ofportRequest = 70000;
  REQUIRE_THAT(validatePort(port).error().message, Catch::Contains("use 1 to 65279"));
  port = gw0();
  port.mtuRequest = 10;
  REQUIRE_THAT(validatePort(port).error().message, Catch::Contains("mtu_request 10"));
  port = gw0();
  port.bridge = "";
  REQUIRE_THAT(validatePort(port).error().message, Catch::Contains("name its bridge"));
  port = gw0();
  port.name = "a/b";
  REQUIRE_FALSE(validatePort(port).ok());
  REQUIRE(validatePort(gw0()).ok());
}

TEST_CASE("deletes plan nothing for absent objects", "[unit]") {
  Snapshot snapshot = sampleSnapshot();
  REQUIRE(planDeletePort(snapshot, "br-int", "nope").empty());
  REQUIRE(planDeletePort(snapshot, "br-nope", "gw0").empty());
  REQUIRE(planDeleteBridge(snapshot, "br-nope").empty());
  REQUIRE(planDeletePort(snapshot, "br-int", "gw0") == Json::parse(R"([
    {"op":"mutate","table":"Bridge","where":[["_uuid","==",["uuid","b1"]]],
     "mutations":[["ports","delete",["uuid","p2"]]]}])"));
  REQUIRE(planDeleteBridge(snapshot, "br-int") == Json::parse(R"([
    {"op":"mutate","table":"Open_vSwitch","where":[],
     "mutations":[["bridges","delete",["uuid","b1"]]]}])"));
}

TEST_CASE("map entries are set or removed only when they differ", "[unit]") {
  RecordRef root = RecordRef::openVswitch();
  REQUIRE(planMapEntry(root, MapColumn::kOtherConfig, "flow-restore-wait", "true", "true").empty());
  REQUIRE(planMapEntry(root, MapColumn::kOtherConfig, "k", std::nullopt, std::nullopt).empty());
  REQUIRE(planMapEntry(root, MapColumn::kOtherConfig, "flow-restore-wait", std::nullopt, "true") ==
          Json::parse(R"([{"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[
            ["other_config","delete",["set",["flow-restore-wait"]]],
            ["other_config","insert",["map",[["flow-restore-wait","true"]]]]]}])"));
  REQUIRE(
      planMapEntry(RecordRef::bridge("br-int"), MapColumn::kExternalIds, "k", "v", std::nullopt) ==
      Json::parse(R"([{"op":"mutate","table":"Bridge","where":[["name","==","br-int"]],
            "mutations":[["external_ids","delete",["set",["k"]]]]}])"));
}

TEST_CASE("transaction replies with an operation error become errors naming it", "[unit]") {
  Json operations =
      Json::parse(R"([{"op":"insert","table":"Port"},{"op":"mutate","table":"Bridge"}])");
  auto failed = checkTransactReply(
      operations,
      Json::parse(R"([{"uuid":["uuid","x"]},{"error":"constraint violation","details":"dup"}])"),
      "ensure port gw0");
  REQUIRE_FALSE(failed.ok());
  REQUIRE(failed.error().message ==
          "ensure port gw0: OVSDB constraint violation (dup) in operation mutate on Bridge");
  auto commit = checkTransactReply(
      operations, Json::parse(R"([{},{},{"error":"referential integrity violation"}])"), "x");
  REQUIRE_THAT(commit.error().message, Catch::Contains("at commit"));
  REQUIRE(checkTransactReply(operations, Json::parse("[{},{}]"), "x").ok());
}

namespace {

// Replays canned replies and records what the client sent.
class FakeTransport final : public Transport {
 public:
  std::deque<sluice::Result<Json>> replies;
  std::vector<Json> sent;
  bool up = true;

  sluice::Result<Json> call(const std::string&, const Json& params,
                            std::chrono::milliseconds) override {
    sent.push_back(params);
    REQUIRE_FALSE(replies.empty());
    auto reply = std::move(replies.front());
    replies.pop_front();
    up = reply.ok();
    return reply;
  }
  bool connected() const override { return up; }
};

// The reply to bridgeQuery(): no such bridge, port or interface yet.
Json emptyBridgeReply() { return Json::parse(R"([{"rows":[]},{"rows":[]},{"rows":[]}])"); }

}  // namespace

TEST_CASE("the client retries an ensure from a fresh read after a dropped connection", "[unit]") {
  auto fake = std::make_unique<FakeTransport>();
  FakeTransport& transport = *fake;
  OvsdbClient client(std::move(fake));
  transport.replies.emplace_back(sluice::makeError("connection closed by ovsdb-server"));
  transport.replies.emplace_back(emptyBridgeReply());
  transport.replies.emplace_back(Json::parse(R"([{},{},{},{},{}])"));
  auto result = client.ensureBridge(brInt());
  if (!result) FAIL(result.error().message);
  REQUIRE(*result == Changed::kYes);
  REQUIRE(transport.sent.size() == 3);
  REQUIRE(transport.sent[2][1]["op"] == "insert");
  REQUIRE(transport.sent[2].back()["op"] == "comment");
  REQUIRE(client.mutatingTransactions() == 1);
}
