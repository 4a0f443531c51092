// Unit tests for MAC address parsing and formatting.
#include <catch2/catch.hpp>

#include "common/mac_address.h"

namespace sluice {
namespace {

TEST_CASE("parseMac accepts six two-digit hex octets in either case", "[unit]") {
  const auto mac = parseMac("AA:bb:0C:dd:ee:FF");
  REQUIRE(mac);
  CHECK(mac->octets == std::array<std::uint8_t, 6>{0xaa, 0xbb, 0x0c, 0xdd, 0xee, 0xff});
  CHECK(mac->toString() == "aa:bb:0c:dd:ee:ff");
  for (const char* bad : {"", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "aa-bb-cc-dd-ee-ff",
                          "a:bb:cc:dd:ee:fff", "gg:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:f "}) {
    INFO(bad);
    CHECK_FALSE(parseMac(bad).has_value());
  }
  CHECK_THAT(parseMacOrError("02:5c").error().message,
             Catch::Matchers::Contains("\"02:5c\" must look like aa:bb:cc:dd:ee:ff"));
}

TEST_CASE("a MAC converts to and from its 48-bit integer", "[unit]") {
  STATIC_REQUIRE(MacAddress::fromBits(0x025c0a0a0008ULL).bits() == 0x025c0a0a0008ULL);
  STATIC_REQUIRE(kAllOnesMac.bits() == 0xffffffffffffULL);
  CHECK(MacAddress::fromBits(0x025c0a0a0008ULL).toString() == "02:5c:0a:0a:00:08");
  CHECK(MacAddress::fromBits(1) < MacAddress::fromBits(2));
}

}  // namespace
}  // namespace sluice
