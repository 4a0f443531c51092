// Unit tests for Result<T>.
#include <catch2/catch.hpp>

#include "common/result.h"

namespace sluice {
namespace {

Result<int> half(int value) {
  if (value % 2 != 0) return makeError("half: " + std::to_string(value) + " is odd");
  return value / 2;
}

TEST_CASE("Result carries a value or an error", "[unit]") {
  auto good = half(4);
  REQUIRE(good.ok());
  CHECK(*good == 2);
  auto bad = half(3);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "half: 3 is odd");
  Result<void> fine;
  CHECK(fine.ok());
  Result<void> failed = makeError("nope");
  CHECK_FALSE(failed.ok());
  CHECK(failed.error().message == "nope");
}

}  // namespace
}  // namespace sluice
