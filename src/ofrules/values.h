// Address values used in flows (IPv4, CIDR, MAC): parsed once, rendered in canonical ovs-ofctl
// form.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace sluice::ofrules {

struct Ipv4Address {
  std::uint32_t value = 0;  // host byte order

  // Accepts dotted quad only ("10.0.0.1"); leading zeros are rejected because they are ambiguous.
  static Result<Ipv4Address> parse(std::string_view text);
  std::string render() const;
  bool operator==(const Ipv4Address&) const = default;
};

// An IPv4 prefix. Host bits must be zero: "10.1.2.3/8" is almost always a typo, so it is refused.
struct Ipv4Cidr {
  Ipv4Address address;
  std::uint8_t prefixLength = 32;

  // Accepts "10.0.0.0/8" and a bare address (a /32).
  static Result<Ipv4Cidr> parse(std::string_view text);
  bool matchesAll() const { return prefixLength == 0; }
  // "10.0.0.0/8"; a /32 renders as the bare address, as ovs-ofctl prints it.
  std::string render() const;
  bool operator==(const Ipv4Cidr&) const = default;
};

struct MacAddress {
  std::uint64_t value = 0;  // low 48 bits

  // Accepts "aa:bb:cc:dd:ee:ff" (either case); renders lowercase.
  static Result<MacAddress> parse(std::string_view text);
  std::string render() const;
  bool operator==(const MacAddress&) const = default;
};

// A MAC with an optional mask ("01:00:00:00:00:00/01:00:00:00:00:00").
struct MacMatch {
  MacAddress address;
  MacAddress mask{0xffffffffffffULL};

  static Result<MacMatch> parse(std::string_view text);
  std::string render() const;
  bool operator==(const MacMatch&) const = default;
};

// "0x1f": the form ovs-ofctl prints for register and mark values.
std::string renderHex(std::uint64_t value);

}  // namespace sluice::ofrules
