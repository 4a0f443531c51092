// OvsdbRoundStore: the flow syncer's restart round in a bridge's external_ids, one per bridge.
#include <catch2/catch.hpp>

#include "ovsdb/ovsdb_round_store.h"
#include "ovsdb/transport.h"
#include "testing/ovs_sandbox.h"

namespace sluice::ovsdb {
namespace {

TEST_CASE("parseRound takes a decimal 0..65535 and nothing else", "[unit]") {
  CHECK(parseRound("0") == std::uint16_t{0});
  CHECK(parseRound("7") == std::uint16_t{7});
  CHECK(parseRound("65535") == std::uint16_t{65535});
  for (const char* bad : {"", "65536", "-1", "7x", " 7", "0x7"}) {
    INFO(bad);
    CHECK_FALSE(parseRound(bad).has_value());
  }
}

TEST_CASE("each bridge keeps its own round in its external_ids", "[ovs]") {
  auto started = testing::OvsSandbox::start({.namePrefix = "sl-rounds", .ownNetns = true});
  INFO((started ? std::string() : started.error().message));
  REQUIRE(started);
  auto& sandbox = **started;
  REQUIRE(sandbox.addBridge("br-int"));
  REQUIRE(sandbox.addBridge("br-phy"));
  auto transport = UnixSocketTransport::open(sandbox.dbRemote());
  REQUIRE(transport);
  OvsdbClient client(std::move(*transport));

  OvsdbRoundStore integration(client, "br-int");
  OvsdbRoundStore physical(client, "br-phy");
  CHECK(*integration.load() == 0);  // never stored
  REQUIRE(integration.store(5));
  REQUIRE(physical.store(9));
  CHECK(*integration.load() == 5);
  CHECK(*physical.load() == 9);
  CHECK(*sandbox.run("ovs-vsctl get Bridge br-phy external_ids:sluice-round") == "\"9\"\n");

  REQUIRE(sandbox.run("ovs-vsctl set Bridge br-phy external_ids:sluice-round=nine"));
  auto corrupt = physical.load();
  REQUIRE_FALSE(corrupt);
  CHECK_THAT(corrupt.error().message,
             Catch::Contains("Bridge br-phy external_ids:sluice-round is \"nine\"") &&
                 Catch::Contains("remove the key"));
}

}  // namespace
}  // namespace sluice::ovsdb
