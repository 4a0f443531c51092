// IPv4 parsing and formatting.
#include "common/ipv4.h"

#include <charconv>

namespace sluice {
namespace {

// A decimal number without sign or leading zeros, at most `max`.
Result<std::uint32_t> parseDecimal(std::string_view text, std::uint32_t max,
                                   std::string_view what) {
  std::uint32_t value = 0;
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text[0] == '0') || text[0] < '0' ||
      text[0] > '9')
    return makeError(std::string(what) + " \"" + std::string(text) + "\" is not a decimal number");
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > max)
    return makeError(std::string(what) + " \"" + std::string(text) +
                     "\" must be a number from 0 to " + std::to_string(max));
  return value;
}

}  // namespace

Result<Ipv4> parseIpv4OrError(std::string_view text) {
  Ipv4 address = 0;
  std::string_view rest = text;
  for (int octet = 0; octet < 4; ++octet) {
    const auto dot = rest.find('.');
    const bool last = octet == 3;
    if (last != (dot == std::string_view::npos))
      return makeError("IPv4 address \"" + std::string(text) +
                       "\" must be a dotted quad like 10.0.0.1");
    const auto number = parseDecimal(last ? rest : rest.substr(0, dot), 255, "IPv4 address octet");
    if (!number)
      return makeError("IPv4 address \"" + std::string(text) + "\": " + number.error().message);
    address = (address << 8) | *number;
    if (!last) rest = rest.substr(dot + 1);
  }
  return address;
}

std::optional<Ipv4> parseIpv4(std::string_view text) {
  auto address = parseIpv4OrError(text);
  if (!address) return std::nullopt;
  return *address;
}

std::string formatIpv4(Ipv4 address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::string Cidr::toString() const { return formatIpv4(base) + "/" + std::to_string(prefix); }

Result<Cidr> parseCidrOrError(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return makeError("CIDR \"" + std::string(text) + "\" needs a prefix length, as in 10.0.0.0/8");
  auto address = parseIpv4OrError(text.substr(0, slash));
  if (!address) return makeError("CIDR \"" + std::string(text) + "\": " + address.error().message);
  auto prefix = parseDecimal(text.substr(slash + 1), 32, "prefix length");
  if (!prefix) return makeError("CIDR \"" + std::string(text) + "\": " + prefix.error().message);
  const Cidr cidr{*address & Cidr{0, static_cast<int>(*prefix)}.mask(), static_cast<int>(*prefix)};
  if (cidr.base != *address)
    return makeError("CIDR \"" + std::string(text) + "\" has host bits set; did you mean " +
                     cidr.toString() + "?");
  return cidr;
}

std::optional<Cidr> parseCidr(std::string_view text) {
  auto cidr = parseCidrOrError(text);
  if (!cidr) return std::nullopt;
  return *cidr;
}

}  // namespace sluice
