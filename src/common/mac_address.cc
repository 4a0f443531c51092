// MAC address parsing and formatting.
#include "common/mac_address.h"

namespace sluice {
namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string MacAddress::toString() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(17);
  for (const auto octet : octets) {
    if (!text.empty()) text += ':';
    text += kDigits[octet >> 4];
    text += kDigits[octet & 0xf];
  }
  return text;
}

std::optional<MacAddress> parseMac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  MacAddress mac;
  for (std::size_t index = 0; index < 6; ++index) {
    const std::size_t at = index * 3;
    const int high = hexDigit(text[at]);
    const int low = hexDigit(text[at + 1]);
    if (high < 0 || low < 0 || (index < 5 && text[at + 2] != ':')) return std::nullopt;
    mac.octets[index] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return mac;
}

Result<MacAddress> parseMacOrError(std::string_view text) {
  if (auto mac = parseMac(text)) return *mac;
  return makeError("MAC address \"" + std::string(text) + "\" must look like aa:bb:cc:dd:ee:ff");
}

}  // namespace sluice
