// Flow values on top of the common address types: a MAC match with a mask, a prefix match that
// also takes a bare address, and the ovs-ofctl spelling of each.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/ipv4.h"
#include "common/mac_address.h"
#include "common/result.h"

namespace sluice::ofrules {

// A MAC with an optional mask ("01:00:00:00:00:00/01:00:00:00:00:00").
struct MacMatch {
  MacAddress address;
  MacAddress mask = kAllOnesMac;

  static Result<MacMatch> parse(std::string_view text);
  std::string render() const;
  bool operator==(const MacMatch&) const = default;
};

// An IPv4 prefix to match: "10.0.0.0/8", or a bare address for a /32. Host bits must be zero.
Result<Cidr> parseMatchCidr(std::string_view text);
// "10.0.0.0/8"; a /32 renders as the bare address, as ovs-ofctl prints it.
std::string renderMatchCidr(const Cidr& cidr);

// "0x1f": the form ovs-ofctl prints for register and mark values.
std::string renderHex(std::uint64_t value);

}  // namespace sluice::ofrules
