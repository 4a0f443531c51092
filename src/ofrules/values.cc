// Parsing and rendering of the address values used in flows.
#include "ofrules/values.h"

#include <charconv>
#include <cstdio>

namespace sluice::ofrules {
namespace {

constexpr std::uint64_t kMacMask = 0xffffffffffffULL;

Result<std::uint32_t> parseDecimal(std::string_view text, std::uint32_t max,
                                   std::string_view what) {
  std::uint32_t value = 0;
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text[0] == '0')) {
    return makeError(std::string(what) + " \"" + std::string(text) + "\" is not a decimal number");
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) {
    return makeError(std::string(what) + " \"" + std::string(text) +
                     "\" must be a number from 0 to " + std::to_string(max));
  }
  return value;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  std::uint32_t value = 0;
  std::string_view rest = text;
  for (int octet = 0; octet < 4; ++octet) {
    auto dot = rest.find('.');
    bool last = octet == 3;
    if (last != (dot == std::string_view::npos)) {
      return makeError("IPv4 address \"" + std::string(text) +
                       "\" must be a dotted quad like 10.0.0.1");
    }
    auto part = last ? rest : rest.substr(0, dot);
    auto number = parseDecimal(part, 255, "IPv4 address octet");
    if (!number) {
      return makeError("IPv4 address \"" + std::string(text) + "\": " + number.error().message);
    }
    value = (value << 8) | *number;
    if (!last) rest = rest.substr(dot + 1);
  }
  return Ipv4Address{value};
}

std::string Ipv4Address::render() const {
  return std::to_string(value >> 24) + "." + std::to_string((value >> 16) & 0xff) + "." +
         std::to_string((value >> 8) & 0xff) + "." + std::to_string(value & 0xff);
}

Result<Ipv4Cidr> Ipv4Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = Ipv4Address::parse(text.substr(0, slash));
  if (!address) return address.error();
  std::uint32_t length = 32;
  if (slash != std::string_view::npos) {
    auto parsed = parseDecimal(text.substr(slash + 1), 32, "prefix length");
    if (!parsed) return makeError("CIDR \"" + std::string(text) + "\": " + parsed.error().message);
    length = *parsed;
  }
  std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
  if ((address->value & ~mask) != 0) {
    Ipv4Address network{address->value & mask};
    return makeError("CIDR \"" + std::string(text) + "\" has host bits set; did you mean " +
                     network.render() + "/" + std::to_string(length) + "?");
  }
  return Ipv4Cidr{*address, static_cast<std::uint8_t>(length)};
}

std::string Ipv4Cidr::render() const {
  if (prefixLength == 32) return address.render();
  return address.render() + "/" + std::to_string(prefixLength);
}

Result<MacAddress> MacAddress::parse(std::string_view text) {
  auto invalid = [&] {
    return makeError("MAC address \"" + std::string(text) + "\" must look like aa:bb:cc:dd:ee:ff");
  };
  if (text.size() != 17) return invalid();
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 17; i += 3) {
    int high = hexDigit(text[i]);
    int low = hexDigit(text[i + 1]);
    if (high < 0 || low < 0 || (i + 2 < 17 && text[i + 2] != ':')) return invalid();
    value = (value << 8) | static_cast<std::uint64_t>(high * 16 + low);
  }
  return MacAddress{value};
}

std::string MacAddress::render() const {
  char buffer[18];
  std::snprintf(
      buffer, sizeof buffer, "%02x:%02x:%02x:%02x:%02x:%02x",
      static_cast<unsigned>((value >> 40) & 0xff), static_cast<unsigned>((value >> 32) & 0xff),
      static_cast<unsigned>((value >> 24) & 0xff), static_cast<unsigned>((value >> 16) & 0xff),
      static_cast<unsigned>((value >> 8) & 0xff), static_cast<unsigned>(value & 0xff));
  return buffer;
}

Result<MacMatch> MacMatch::parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = MacAddress::parse(text.substr(0, slash));
  if (!address) return address.error();
  MacMatch match{*address, MacAddress{kMacMask}};
  if (slash != std::string_view::npos) {
    auto mask = MacAddress::parse(text.substr(slash + 1));
    if (!mask)
      return makeError("MAC mask in \"" + std::string(text) + "\": " + mask.error().message);
    if ((address->value & ~mask->value) != 0) {
      return makeError("MAC match \"" + std::string(text) +
                       "\" sets bits outside its mask; clear them");
    }
    match.mask = *mask;
  }
  return match;
}

std::string MacMatch::render() const {
  if (mask.value == kMacMask) return address.render();
  return address.render() + "/" + mask.render();
}

std::string renderHex(std::uint64_t value) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
  return buffer;
}

}  // namespace sluice::ofrules
