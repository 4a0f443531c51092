// Field allocation: overlaps are caught, subfields render as ovs-ofctl expects; cookie layout.
#include <catch2/catch.hpp>

#include <array>

#include "golden_cases.h"
#include "ofrules/cookie_text.h"
#include "ofrules/fields.h"
#include "ofrules/flow.h"
#include "ofrules/values.h"

namespace sluice::ofrules {
namespace {

using Catch::Matchers::Contains;

TEST_CASE("the allocated fields are disjoint", "[unit]") {
  STATIC_REQUIRE(fieldsAreDisjoint(kAllocatedFields));
  CHECK(checkFieldAllocation(kAllocatedFields).ok());
}

TEST_CASE("overlapping register fields are detected at compile time and at run time", "[unit]") {
  constexpr Field kSource{"Source", FieldSpace::kRegister, 0, 0, 3, "test"};
  constexpr Field kClash{"Clash", FieldSpace::kRegister, 0, 3, 5, "test"};
  constexpr Field kOtherRegister{"OtherRegister", FieldSpace::kRegister, 1, 0, 3, "test"};
  constexpr Field kMarkBits{"MarkBits", FieldSpace::kCtMark, 0, 0, 3, "test"};
  constexpr std::array kOverlapping = {kSource, kOtherRegister, kClash};
  constexpr std::array kDisjoint = {kSource, kOtherRegister, kMarkBits};
  STATIC_REQUIRE_FALSE(fieldsAreDisjoint(kOverlapping));
  STATIC_REQUIRE(fieldsAreDisjoint(kDisjoint));

  auto result = checkFieldAllocation(kOverlapping);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message ==
        "fields Source (reg0[0..3]) and Clash (reg0[3..5]) overlap; move one of them to free bits "
        "in ofrules/fields.h");
  CHECK(checkFieldAllocation(kDisjoint).ok());
}

TEST_CASE("malformed fields are rejected", "[unit]") {
  constexpr Field kBackwards{"Backwards", FieldSpace::kRegister, 0, 5, 2, "test"};
  constexpr Field kNoSuchRegister{"NoSuchRegister", FieldSpace::kRegister, 16, 0, 1, "test"};
  constexpr Field kTooHigh{"TooHigh", FieldSpace::kCtMark, 0, 30, 32, "test"};
  STATIC_REQUIRE_FALSE(fieldsAreDisjoint(std::array{kBackwards}));
  for (const Field& field : {kBackwards, kNoSuchRegister, kTooHigh}) {
    auto result = checkFieldAllocation(std::array{field});
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.error().message, Contains(std::string(field.name) + "\" is malformed"));
  }
}

TEST_CASE("fields render as subfields and describe themselves", "[unit]") {
  CHECK(Subfield(kPacketSource).render() == "NXM_NX_REG0[0..3]");
  CHECK(Subfield(kTargetOfPortFound).render() == "NXM_NX_REG0[8]");
  CHECK(Subfield(kTargetOfPort).render() == "NXM_NX_REG1[]");
  CHECK(Subfield(kCtEgressSnat).render() == "NXM_NX_CT_MARK[1]");
  CHECK(Subfield(kArpSha).render() == "NXM_NX_ARP_SHA[]");
  CHECK(kEgressId.describe() == "EgressId (reg2[0..31])");
  CHECK(testing::kTestCtFromGateway.describe() == "CtFromGateway (ct_mark[0])");
  CHECK(kPacketSource.mask() == 0xf);
  CHECK(kTargetOfPortFound.mask() == 0x100);
  CHECK(kEgressId.maxValue() == 0xffffffff);
  CHECK(kEgressId.width() == 32);
}

TEST_CASE("cookies round-trip through encode and decode", "[unit]") {
  Cookie cookie{0xbeef, Category::kEgress, 0xab'cdef'0123};
  auto encoded = cookie.encode();
  CHECK(encoded == 0xbeef'06ab'cdef'0123ULL);
  Cookie decoded = Cookie::decode(encoded);
  CHECK(decoded.round == cookie.round);
  CHECK(decoded.category == cookie.category);
  CHECK(decoded.ownerHash == cookie.ownerHash);
  CHECK((encoded & Cookie::kRoundMask) == 0xbeef'0000'0000'0000ULL);
  // Owner hashes wider than 40 bits are truncated, never spill into the category.
  CHECK(Cookie::decode(Cookie{1, Category::kPod, ~std::uint64_t{0}}.encode()).category ==
        Category::kPod);
}

TEST_CASE("cookies describe themselves for sluicectl", "[unit]") {
  CHECK(describeCookie(Cookie{3, Category::kEgress, 0xabc}.encode()) ==
        "round=3,category=egress,owner=0xabc");
  CHECK(describeCookie(std::uint64_t{42} << 40) == "round=0,category=42,owner=0x0");
  for (Category category : {Category::kUnknown, Category::kPipeline, Category::kGateway,
                            Category::kTunnel, Category::kPod, Category::kNodeRoute,
                            Category::kEgress, Category::kService, Category::kTest}) {
    CHECK(categoryByName(categoryName(category)) == category);
  }
  CHECK_FALSE(categoryByName("nope").has_value());
}

TEST_CASE("address values parse and render canonically", "[unit]") {
  CHECK(renderMatchCidr(*parseMatchCidr("10.244.0.0/16")) == "10.244.0.0/16");
  CHECK(renderMatchCidr(*parseMatchCidr("10.244.1.5/32")) == "10.244.1.5");
  CHECK(renderMatchCidr(*parseMatchCidr("10.244.1.5")) == "10.244.1.5");
  CHECK(parseMatchCidr("0.0.0.0/0")->prefix == 0);
  CHECK_FALSE(parseMatchCidr("10.244.0.0/33").ok());
  CHECK_FALSE(parseMatchCidr("010.1.1.1").ok());
  CHECK_FALSE(parseMatchCidr("1.1.1.1.1").ok());
  CHECK_FALSE(parseMatchCidr("").ok());
  CHECK(MacMatch::parse("AA:bb:0C:dd:ee:FF")->render() == "aa:bb:0c:dd:ee:ff");
  CHECK(MacMatch::parse("01:00:00:00:00:00/01:00:00:00:00:00")->render() ==
        "01:00:00:00:00:00/01:00:00:00:00:00");
  CHECK_FALSE(MacMatch::parse("aa-bb-cc-dd-ee-ff").ok());
  CHECK_FALSE(MacMatch::parse("ff:00:00:00:00:00/01:00:00:00:00:00").ok());
  CHECK(renderHex(0) == "0x0");
  CHECK(renderHex(0xffffffff) == "0xffffffff");
}

}  // namespace
}  // namespace sluice::ofrules
