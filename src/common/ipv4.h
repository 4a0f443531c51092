// IPv4 addresses and CIDRs as plain integers, with strict parsing for user input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace sluice {

// An IPv4 address in host byte order.
using Ipv4 = std::uint32_t;

// Parses dotted-quad notation strictly: four decimal octets, no leading zeros, nothing else.
std::optional<Ipv4> parseIpv4(std::string_view text);
// The same, with an error that names the text and what is wrong with it.
Result<Ipv4> parseIpv4OrError(std::string_view text);
std::string formatIpv4(Ipv4 address);

struct Cidr {
  Ipv4 base = 0;  // the network address; host bits are zero
  int prefix = 0;

  Ipv4 mask() const { return prefix == 0 ? 0 : ~Ipv4{0} << (32 - prefix); }
  Ipv4 first() const { return base; }
  Ipv4 last() const { return base | ~mask(); }
  bool contains(Ipv4 address) const { return (address & mask()) == base; }
  std::string toString() const;
  bool operator==(const Cidr&) const = default;
};

// Parses "A.B.C.D/N". Host bits set below the prefix are an error (as Kubernetes validation
// does for CIDR fields), so "10.0.0.1/24" is rejected rather than silently truncated.
std::optional<Cidr> parseCidr(std::string_view text);
// The same, with an error that names the text; for host bits set, it suggests the network.
Result<Cidr> parseCidrOrError(std::string_view text);

}  // namespace sluice
