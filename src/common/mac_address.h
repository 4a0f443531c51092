// MAC addresses as a value: six octets, parsed strictly from "aa:bb:cc:dd:ee:ff" text.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace sluice {

struct MacAddress {
  std::array<std::uint8_t, 6> octets{};

  // The address as the low 48 bits of an integer (first octet highest), for masks.
  static constexpr MacAddress fromBits(std::uint64_t bits) {
    MacAddress mac;
    for (int index = 5; index >= 0; --index, bits >>= 8)
      mac.octets[static_cast<std::size_t>(index)] = static_cast<std::uint8_t>(bits & 0xff);
    return mac;
  }
  constexpr std::uint64_t bits() const {
    std::uint64_t bits = 0;
    for (const auto octet : octets) bits = (bits << 8) | octet;
    return bits;
  }
  // The octets in wire order, e.g. to copy into a frame.
  constexpr auto begin() const { return octets.begin(); }
  constexpr auto end() const { return octets.end(); }
  // Lowercase "aa:bb:cc:dd:ee:ff", as ip(8) and ovs-ofctl print it.
  std::string toString() const;
  // clang-tidy 14 sees the literal 0 that a defaulted <=> compares with as a null pointer.
  auto operator<=>(const MacAddress&) const = default;  // NOLINT(modernize-use-nullptr)
};

inline constexpr MacAddress kAllOnesMac = MacAddress::fromBits(0xffffffffffffULL);

// Accepts exactly six two-digit hex octets separated by ':' (either case).
std::optional<MacAddress> parseMac(std::string_view text);
// The same, with an error that names the text and the expected form.
Result<MacAddress> parseMacOrError(std::string_view text);

}  // namespace sluice
