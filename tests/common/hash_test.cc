// Unit tests for stableHash, the one hash whose values outlive a process.
#include <catch2/catch.hpp>

#include "common/hash.h"

namespace sluice {
namespace {

TEST_CASE("stableHash is 64-bit FNV-1a", "[unit]") {
  // The published FNV-1a test vectors: these values are in cookies and interface names on nodes.
  STATIC_REQUIRE(stableHash("") == 0xcbf29ce484222325ULL);
  STATIC_REQUIRE(stableHash("a") == 0xaf63dc4c8601ec8cULL);
  STATIC_REQUIRE(stableHash("foobar") == 0x85944171f73967e8ULL);
  CHECK(stableHash("default/web-1") != stableHash("default/web-2"));
}

}  // namespace
}  // namespace sluice
