// stableHash: FNV-1a, 64 bits, the one hash Sluice uses where a value must be the same in every
// process and release (cookies, interface names, egress IP choice), which std::hash is not.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice {

constexpr std::uint64_t stableHash(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // the FNV-1a 64-bit offset basis
  for (const char c : text) {
    hash ^= static_cast<std::uint8_t>(c);
    hash *= 0x100000001b3ULL;  // the FNV 64-bit prime
  }
  return hash;
}

}  // namespace sluice
