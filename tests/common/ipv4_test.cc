// Unit tests for strict IPv4 and CIDR parsing.
#include <catch2/catch.hpp>

#include "common/ipv4.h"

namespace sluice {
namespace {

TEST_CASE("parseIpv4 accepts dotted quads only", "[unit]") {
  CHECK(parseIpv4("10.10.0.8") == Ipv4{0x0a0a0008});
  CHECK(parseIpv4("0.0.0.0") == Ipv4{0});
  CHECK(parseIpv4("255.255.255.255") == Ipv4{0xffffffff});
  for (const char* bad : {"", "10.10.0", "10.10.0.8.", "10.10.0.256", "010.1.1.1", "1.2.3.4/8",
                          " 1.2.3.4", "a.b.c.d", "1..2.3", "1.2.3.-4"}) {
    INFO(bad);
    CHECK_FALSE(parseIpv4(bad).has_value());
  }
  CHECK(formatIpv4(0x0a0a0108) == "10.10.1.8");
}

TEST_CASE("parseCidr rejects host bits and bad prefixes", "[unit]") {
  auto cidr = parseCidr("10.10.1.0/28");
  REQUIRE(cidr);
  CHECK(cidr->first() == *parseIpv4("10.10.1.0"));
  CHECK(cidr->last() == *parseIpv4("10.10.1.15"));
  CHECK(cidr->contains(*parseIpv4("10.10.1.9")));
  CHECK_FALSE(cidr->contains(*parseIpv4("10.10.1.16")));
  CHECK(parseCidr("0.0.0.0/0")->contains(*parseIpv4("8.8.8.8")));
  CHECK(parseCidr("10.0.0.1/32")->toString() == "10.0.0.1/32");
  for (const char* bad : {"10.10.1.1/28", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0", "10.0.0.0/08"}) {
    INFO(bad);
    CHECK_FALSE(parseCidr(bad).has_value());
  }
}

TEST_CASE("the OrError parsers say what is wrong with the text", "[unit]") {
  using Catch::Matchers::Contains;
  CHECK(*parseIpv4OrError("10.10.0.8") == Ipv4{0x0a0a0008});
  CHECK_THAT(parseIpv4OrError("10.1.2").error().message, Contains("must be a dotted quad"));
  CHECK_THAT(parseIpv4OrError("10.1.2.256").error().message, Contains("from 0 to 255"));
  CHECK(*parseCidrOrError("10.10.1.0/28") == Cidr{0x0a0a0100, 28});
  CHECK_THAT(parseCidrOrError("10.1.2.3/8").error().message,
             Contains("has host bits set; did you mean 10.0.0.0/8?"));
  CHECK_THAT(parseCidrOrError("10.0.0.0").error().message, Contains("needs a prefix length"));
  CHECK_THAT(parseCidrOrError("10.0.0.0/33").error().message, Contains("from 0 to 32"));
}

}  // namespace
}  // namespace sluice
