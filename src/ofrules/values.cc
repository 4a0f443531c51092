// Parsing and rendering of the address values used in flows.
#include "ofrules/values.h"

#include <cstdio>

namespace sluice::ofrules {

Result<MacMatch> MacMatch::parse(std::string_view text) {
  const auto slash = text.find('/');
  auto address = parseMacOrError(text.substr(0, slash));
  if (!address) return address.error();
  MacMatch match{*address, kAllOnesMac};
  if (slash != std::string_view::npos) {
    auto mask = parseMacOrError(text.substr(slash + 1));
    if (!mask)
      return makeError("MAC mask in \"" + std::string(text) + "\": " + mask.error().message);
    if ((address->bits() & ~mask->bits()) != 0)
      return makeError("MAC match \"" + std::string(text) +
                       "\" sets bits outside its mask; clear them");
    match.mask = *mask;
  }
  return match;
}

std::string MacMatch::render() const {
  if (mask == kAllOnesMac) return address.toString();
  return address.toString() + "/" + mask.toString();
}

Result<Cidr> parseMatchCidr(std::string_view text) {
  if (text.find('/') != std::string_view::npos) return parseCidrOrError(text);
  auto address = parseIpv4OrError(text);
  if (!address) return address.error();
  return Cidr{*address, 32};
}

std::string renderMatchCidr(const Cidr& cidr) {
  if (cidr.prefix == 32) return formatIpv4(cidr.base);
  return cidr.toString();
}

std::string renderHex(std::uint64_t value) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
  return buffer;
}

}  // namespace sluice::ofrules
