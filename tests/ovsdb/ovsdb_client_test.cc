// [ovs] tests of the OVSDB client against a real ovsdb-server + ovs-vswitchd sandbox: every
// operation, idempotency (the same desired state twice changes nothing), and ofport waits.
#include <catch2/catch.hpp>

#include <algorithm>

#include "ovsdb/ovsdb_client.h"
#include "testing/ovs_sandbox.h"

namespace {

using namespace sluice::ovsdb;
using sluice::testing::OvsSandbox;
using namespace std::chrono_literals;

// Forwards to the real transport and records the operations of every transaction, so a test can
// prove that a call sent nothing but reads.
class RecordingTransport final : public Transport {
 public:
  explicit RecordingTransport(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
  sluice::Result<Json> call(const std::string& method, const Json& params,
                            std::chrono::milliseconds timeout) override {
    if (method == "transact") {
      for (size_t i = 1; i < params.size(); ++i) operations.push_back(params[i].value("op", ""));
    }
    return inner_->call(method, params, timeout);
  }
  bool connected() const override { return inner_->connected(); }

  // Operations other than select/wait/comment since the last clear().
  std::vector<std::string> writes() const {
    std::vector<std::string> result;
    for (const auto& op : operations) {
      if (op != "select" && op != "wait" && op != "comment") result.push_back(op);
    }
    return result;
  }
  std::vector<std::string> operations;

 private:
  std::unique_ptr<Transport> inner_;
};

struct Fixture {
  std::unique_ptr<OvsSandbox> sandbox;
  RecordingTransport* recorder = nullptr;
  std::unique_ptr<OvsdbClient> client;

  Fixture() {
    auto started = OvsSandbox::start({.namePrefix = "sl-ovsdb", .ownNetns = true});
    if (!started) FAIL(started.error().message);
    sandbox = std::move(started).value();
    auto transport = UnixSocketTransport::open(sandbox->dbRemote());
    if (!transport) FAIL(transport.error().message);
    auto recording = std::make_unique<RecordingTransport>(std::move(transport).value());
    recorder = recording.get();
    client = std::make_unique<OvsdbClient>(std::move(recording));
  }

  std::string run(const std::string& command) const {
    auto output = sandbox->run(command);
    if (!output) FAIL(output.error().message);
    return *output;
  }

  // Every configuration column Sluice may touch, plus the _version of Bridge and Port rows
  // (ovs-vswitchd itself rewrites Interface and Open_vSwitch rows with status and statistics).
  std::string databaseState() const {
    return run("ovs-vsctl --format=json --columns=_uuid,name,ports,datapath_type,fail_mode,"
               "protocols,other_config,external_ids list Bridge") +
           run("ovs-vsctl --format=json --columns=_uuid,name,interfaces,external_ids list Port") +
           run("ovs-vsctl --format=json --columns=_uuid,name,type,options,ofport_request,"
               "mtu_request,external_ids list Interface") +
           run("ovs-vsctl --format=json --columns=bridges,external_ids,other_config list "
               "Open_vSwitch") +
           run("ovsdb-client transact " + sandbox->dbRemote() +
               " '[\"Open_vSwitch\","
               "{\"op\":\"select\",\"table\":\"Bridge\",\"where\":[],"
               "\"columns\":[\"_uuid\",\"_version\"]},"
               "{\"op\":\"select\",\"table\":\"Port\",\"where\":[],"
               "\"columns\":[\"_uuid\",\"_version\"]}]'");
  }
};

BridgeOptions netdevBridge(const std::string& name) {
  return BridgeOptions{.name = name,
                       .datapathType = DatapathType::kNetdev,
                       .failMode = FailMode::kSecure,
                       .protocols = {"OpenFlow10", "OpenFlow13", "OpenFlow15"},
                       .otherConfig = {{"disable-in-band", "true"}},
                       .externalIds = {{"sluice/owner", "agent"}}};
}

PortOptions internalPort(const std::string& bridge, const std::string& name,
                         std::optional<int64_t> ofportRequest) {
  return PortOptions{.bridge = bridge,
                     .name = name,
                     .type = PortType::kInternal,
                     .geneve = {},
                     .patchPeer = "",
                     .ofportRequest = ofportRequest,
                     .mtuRequest = std::nullopt,
                     .externalIds = {{"sluice/owner", "agent"}}};
}

PortOptions geneveTunnel(const std::string& bridge, const std::string& name) {
  return PortOptions{.bridge = bridge,
                     .name = name,
                     .type = PortType::kGeneve,
                     .geneve = {.remoteIp = "flow",
                                .key = "flow",
                                .localIp = std::nullopt,
                                .destinationPort = std::nullopt,
                                .checksum = true},
                     .patchPeer = "",
                     .ofportRequest = 1,
                     .mtuRequest = std::nullopt,
                     .externalIds = {}};
}

PortOptions patchPort(const std::string& bridge, const std::string& name, const std::string& peer) {
  return PortOptions{.bridge = bridge,
                     .name = name,
                     .type = PortType::kPatch,
                     .geneve = {},
                     .patchPeer = peer,
                     .ofportRequest = std::nullopt,
                     .mtuRequest = std::nullopt,
                     .externalIds = {}};
}

template <typename T>
T mustOk(sluice::Result<T> result) {
  if (!result) FAIL(result.error().message);
  return std::move(result).value();
}

void mustOk(const sluice::Result<void>& result) {
  if (!result) FAIL(result.error().message);
}

}  // namespace

TEST_CASE("ensureBridge creates a netdev bridge once; the second call changes nothing", "[ovs]") {
  Fixture f;
  REQUIRE(mustOk(f.client->ensureBridge(netdevBridge("br-int"))) == Changed::kYes);
  mustOk(f.client->waitForVswitchd(10s));
  REQUIRE(f.run("ovs-vsctl get Bridge br-int datapath_type fail_mode protocols") ==
          "netdev\nsecure\n[OpenFlow10, OpenFlow13, OpenFlow15]\n");
  REQUIRE(f.run("ovs-vsctl get Bridge br-int other_config:disable-in-band "
                "external_ids:sluice/owner") == "\"true\"\nagent\n");
  // Like ovs-vsctl add-br: the bridge's local internal port exists and serves OpenFlow.
  REQUIRE(f.run("ovs-vsctl list-ports br-int").empty());
  REQUIRE(f.run("ovs-vsctl get Interface br-int type ofport") == "internal\n65534\n");
  REQUIRE_THAT(f.run("ovs-ofctl -O OpenFlow15 show br-int"), Catch::Contains("LOCAL(br-int)"));

  std::string before = f.databaseState();
  f.recorder->operations.clear();
  uint64_t sent = f.client->mutatingTransactions();
  REQUIRE(mustOk(f.client->ensureBridge(netdevBridge("br-int"))) == Changed::kNo);
  REQUIRE(f.client->mutatingTransactions() == sent);
  REQUIRE(f.recorder->writes().empty());
  REQUIRE(f.databaseState() == before);
}

TEST_CASE("ensureBridge updates only what differs and keeps foreign map keys", "[ovs]") {
  Fixture f;
  mustOk(f.client->ensureBridge(netdevBridge("br-int")));
  f.run("ovs-vsctl set Bridge br-int external_ids:foreign=keep fail_mode=standalone");
  BridgeOptions desired = netdevBridge("br-int");
  desired.externalIds["sluice/round"] = "3";
  f.recorder->operations.clear();
  REQUIRE(mustOk(f.client->ensureBridge(desired)) == Changed::kYes);
  REQUIRE(f.recorder->writes() == std::vector<std::string>{"update", "mutate"});
  REQUIRE(f.run("ovs-vsctl get Bridge br-int fail_mode external_ids:foreign "
                "external_ids:sluice/round") == "secure\nkeep\n\"3\"\n");
  REQUIRE(mustOk(f.client->ensureBridge(desired)) == Changed::kNo);
}

TEST_CASE("ensurePort adds an internal port whose ofport_request is honoured", "[ovs]") {
  Fixture f;
  mustOk(f.client->ensureBridge(netdevBridge("br-int")));
  PortOptions gateway = internalPort("br-int", "gw0", 2);
  gateway.mtuRequest = 1450;
  REQUIRE(mustOk(f.client->ensurePort(gateway)) == Changed::kYes);
  REQUIRE(mustOk(f.client->waitForOfport("gw0", 10s)) == 2);
  REQUIRE(mustOk(f.client->getOfport("gw0")) == std::optional<int64_t>(2));
  REQUIRE(f.run("ovs-vsctl get Interface gw0 type mtu_request external_ids:sluice/owner") ==
          "internal\n1450\nagent\n");
  REQUIRE(f.run("ovs-vsctl list-ports br-int") == "gw0\n");

  std::string before = f.databaseState();
  f.recorder->operations.clear();
  REQUIRE(mustOk(f.client->ensurePort(gateway)) == Changed::kNo);
  REQUIRE(f.recorder->writes().empty());
  REQUIRE(f.databaseState() == before);

  // Changing one field updates the port in place (same UUID).
  std::string uuid = f.run("ovs-vsctl get Interface gw0 _uuid");
  gateway.mtuRequest = 1400;
  REQUIRE(mustOk(f.client->ensurePort(gateway)) == Changed::kYes);
  REQUIRE(f.run("ovs-vsctl get Interface gw0 mtu_request") == "1400\n");
  REQUIRE(f.run("ovs-vsctl get Interface gw0 _uuid") == uuid);
}

TEST_CASE("a taken ofport_request is refused naming both ports", "[ovs]") {
  Fixture f;
  mustOk(f.client->ensureBridge(netdevBridge("br-int")));
  mustOk(f.client->ensurePort(geneveTunnel("br-int", "tun0")));
  auto conflict = f.client->ensurePort(internalPort("br-int", "gw0", 1));
  REQUIRE_FALSE(conflict.ok());
  REQUIRE(conflict.error().message ==
          "port gw0 on br-int: ofport_request 1 is taken by port tun0; pick another");
  REQUIRE(f.run("ovs-vsctl list-ports br-int") == "tun0\n");
}

TEST_CASE("a geneve port with remote_ip=flow key=flow works on a netdev bridge", "[ovs]") {
  Fixture f;
  mustOk(f.client->ensureBridge(netdevBridge("br-int")));
  REQUIRE(mustOk(f.client->ensurePort(geneveTunnel("br-int", "tun0"))) == Changed::kYes);
  REQUIRE(mustOk(f.client->waitForOfport("tun0", 10s)) == 1);
  REQUIRE(f.run("ovs-vsctl get Interface tun0 type options error") ==
          "geneve\n{csum=\"true\", key=flow, remote_ip=flow}\n[]\n");
  REQUIRE_THAT(f.run("ovs-ofctl -O OpenFlow15 show br-int"), Catch::Contains("1(tun0)"));
  // A flow that sets the tunnel destination per packet is accepted by this port.
  f.run(
      "ovs-ofctl -O OpenFlow15 add-flow br-int "
      "'priority=10,ip,actions=set_field:192.0.2.9->tun_dst,set_field:7->tun_id,output:1'");
  REQUIRE(mustOk(f.client->ensurePort(geneveTunnel("br-int", "tun0"))) == Changed::kNo);
}

TEST_CASE("a patch port pair joins two bridges", "[ovs]") {
  Fixture f;
  mustOk(f.client->ensureBridge(netdevBridge("br-int")));
  mustOk(f.client->ensureBridge(netdevBridge("br-phy")));
  mustOk(f.client->ensurePort(patchPort("br-int", "patch-phy", "patch-int")));
  mustOk(f.client->ensurePort(patchPort("br-phy", "patch-int", "patch-phy")));
  REQUIRE(mustOk(f.client->waitForOfport("patch-phy", 10s)) > 0);
  REQUIRE(mustOk(f.client->waitForOfport("patch-int", 10s)) > 0);
  REQUIRE(f.run("ovs-vsctl get Interface patch-phy type options:peer") == "patch\npatch-int\n");
  REQUIRE(f.run("ovs-vsctl get Interface patch-int error") == "[]\n");

  std::string before = f.databaseState();
  f.recorder->operations.clear();
  REQUIRE(mustOk(f.client->ensurePort(patchPort("br-int", "patch-phy", "patch-int"))) ==
          Changed::kNo);
  REQUIRE(mustOk(f.client->ensurePort(patchPort("br-phy", "patch-int", "patch-phy"))) ==
          Changed::kNo);
  REQUIRE(f.recorder->writes().empty());
  REQUIRE(f.databaseState() == before);

  // The same port name on the other bridge is refused with the fix.
  auto moved = f.client->ensurePort(patchPort("br-phy", "patch-phy", "patch-int"));
  REQUIRE_FALSE(moved.ok());
  REQUIRE_THAT(moved.error().message, Catch::Contains("deletePort(br-int, patch-phy)"));
}

TEST_CASE("deletePort and deleteBridge remove objects once and are no-ops after", "[ovs]") {
  Fixture f;
  mustOk(f.client->ensureBridge(netdevBridge("br-int")));
  mustOk(f.client->ensurePort(internalPort("br-int", "gw0", 2)));
  mustOk(f.client->ensurePort(internalPort("br-int", "gw1", std::nullopt)));
  REQUIRE(mustOk(f.client->deletePort("br-int", "gw0")) == Changed::kYes);
  REQUIRE(f.run("ovs-vsctl list-ports br-int") == "gw1\n");
  // Garbage collection removed the Interface row too.
  REQUIRE(f.run("ovs-vsctl --bare --columns=name find Interface name=gw0").empty());
  REQUIRE(mustOk(f.client->deletePort("br-int", "gw0")) == Changed::kNo);
  REQUIRE(mustOk(f.client->deletePort("br-nope", "gw1")) == Changed::kNo);

  REQUIRE(mustOk(f.client->deleteBridge("br-int")) == Changed::kYes);
  REQUIRE(f.run("ovs-vsctl list-br").empty());
  REQUIRE(f.run("ovs-vsctl --bare --columns=name list Interface").empty());
  REQUIRE(mustOk(f.client->deleteBridge("br-int")) == Changed::kNo);
}

TEST_CASE("external_ids and other_config entries are read, set and removed idempotently", "[ovs]") {
  Fixture f;
  mustOk(f.client->ensureBridge(netdevBridge("br-int")));
  f.run("ovs-vsctl set Open_vSwitch . external_ids:system-id=node-1");
  RecordRef root = RecordRef::openVswitch();
  REQUIRE(mustOk(f.client->getExternalId(root, "sluice/round")) == std::nullopt);
  REQUIRE(mustOk(f.client->setExternalId(root, "sluice/round", "5")) == Changed::kYes);
  REQUIRE(mustOk(f.client->setExternalId(root, "sluice/round", "5")) == Changed::kNo);
  REQUIRE(mustOk(f.client->getExternalId(root, "sluice/round")) == std::optional<std::string>("5"));
  REQUIRE(mustOk(f.client->setExternalId(root, "sluice/round", "6")) == Changed::kYes);
  REQUIRE(f.run("ovs-vsctl get Open_vSwitch . external_ids:sluice/round external_ids:system-id") ==
          "\"6\"\nnode-1\n");

  RecordRef bridge = RecordRef::bridge("br-int");
  REQUIRE(mustOk(f.client->setExternalId(bridge, "sluice/round", "6")) == Changed::kYes);
  REQUIRE(f.run("ovs-vsctl get Bridge br-int external_ids:sluice/round") == "\"6\"\n");
  REQUIRE(mustOk(f.client->removeExternalId(bridge, "sluice/round")) == Changed::kYes);
  REQUIRE(mustOk(f.client->removeExternalId(bridge, "sluice/round")) == Changed::kNo);
  REQUIRE(mustOk(f.client->getExternalId(bridge, "sluice/owner")) ==
          std::optional<std::string>("agent"));

  REQUIRE(mustOk(f.client->setOtherConfig("flow-restore-wait", "true")) == Changed::kYes);
  REQUIRE(f.run("ovs-vsctl get Open_vSwitch . other_config:flow-restore-wait") == "\"true\"\n");
  REQUIRE(mustOk(f.client->setOtherConfig("flow-restore-wait", "true")) == Changed::kNo);
  REQUIRE(mustOk(f.client->removeOtherConfig("flow-restore-wait")) == Changed::kYes);
  REQUIRE(mustOk(f.client->getOtherConfig("flow-restore-wait")) == std::nullopt);

  auto missing = f.client->getExternalId(RecordRef::bridge("br-nope"), "k");
  REQUIRE_FALSE(missing.ok());
  REQUIRE_THAT(missing.error().message, Catch::Contains("Bridge br-nope does not exist"));
}

TEST_CASE("waitForOfport reports missing and failed interfaces with the reason", "[ovs]") {
  Fixture f;
  mustOk(f.client->ensureBridge(netdevBridge("br-int")));
  auto missing = f.client->waitForOfport("nope0", 1s);
  REQUIRE_FALSE(missing.ok());
  REQUIRE_THAT(missing.error().message, Catch::Contains("interface nope0 does not exist"));

  // A system port for a device that does not exist: ovs-vswitchd sets ofport -1 and an error.
  PortOptions absent{.bridge = "br-int",
                     .name = "sl-absent0",
                     .type = PortType::kSystem,
                     .geneve = {},
                     .patchPeer = "",
                     .ofportRequest = std::nullopt,
                     .mtuRequest = std::nullopt,
                     .externalIds = {}};
  mustOk(f.client->ensurePort(absent));
  auto failed = f.client->waitForOfport("sl-absent0", 10s);
  REQUIRE_FALSE(failed.ok());
  REQUIRE_THAT(failed.error().message,
               Catch::Contains("interface sl-absent0: ovs-vswitchd could not create it") &&
                   Catch::Contains("No such device"));
}

TEST_CASE("the database survives an ovs-vswitchd crash and ensures stay no-ops", "[ovs]") {
  Fixture f;
  mustOk(f.client->ensureBridge(netdevBridge("br-int")));
  mustOk(f.client->ensurePort(internalPort("br-int", "gw0", 2)));
  REQUIRE(mustOk(f.client->waitForOfport("gw0", 10s)) == 2);
  mustOk(f.sandbox->killVswitchd());
  mustOk(f.sandbox->startVswitchd());
  REQUIRE(mustOk(f.client->ensureBridge(netdevBridge("br-int"))) == Changed::kNo);
  REQUIRE(mustOk(f.client->ensurePort(internalPort("br-int", "gw0", 2))) == Changed::kNo);
  mustOk(f.client->waitForVswitchd(10s));
  REQUIRE(mustOk(f.client->waitForOfport("gw0", 10s)) == 2);
}

TEST_CASE("the client reconnects after ovsdb-server restarts", "[ovs]") {
  Fixture f;
  mustOk(f.client->ensureBridge(netdevBridge("br-int")));
  pid_t old = f.sandbox->ovsdbPid();
  mustOk(f.sandbox->restartOvsdbServer());
  REQUIRE(f.sandbox->ovsdbPid() != old);
  // The first call finds the old connection dead, reconnects and retries from a fresh read.
  REQUIRE(mustOk(f.client->ensureBridge(netdevBridge("br-int"))) == Changed::kNo);
  REQUIRE(mustOk(f.client->ensurePort(internalPort("br-int", "gw0", 2))) == Changed::kYes);
  // ovs-vswitchd reconnected to the new server too and creates the port.
  REQUIRE(mustOk(f.client->waitForOfport("gw0", 10s)) == 2);
  // Reads and map updates recover the same way.
  mustOk(f.sandbox->restartOvsdbServer());
  REQUIRE(mustOk(f.client->getOtherConfig("flow-restore-wait")) == std::nullopt);
  mustOk(f.sandbox->restartOvsdbServer());
  REQUIRE(mustOk(f.client->setOtherConfig("flow-restore-wait", "true")) == Changed::kYes);
}
