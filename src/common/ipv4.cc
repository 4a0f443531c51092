// IPv4 parsing and formatting.
#include "common/ipv4.h"

#include <charconv>

namespace sluice {

std::optional<Ipv4> parseIpv4(std::string_view text) {
  Ipv4 address = 0;
  for (int octetIndex = 0; octetIndex < 4; ++octetIndex) {
    if (octetIndex > 0) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0 || digits > 3 || (digits > 1 && text.front() == '0')) return std::nullopt;
    unsigned octet = 0;
    std::from_chars(text.data(), text.data() + digits, octet);
    if (octet > 255) return std::nullopt;
    address = (address << 8) | octet;
    text.remove_prefix(digits);
  }
  if (!text.empty()) return std::nullopt;
  return address;
}

std::string formatIpv4(Ipv4 address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::string Cidr::toString() const { return formatIpv4(base) + "/" + std::to_string(prefix); }

std::optional<Cidr> parseCidr(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto address = parseIpv4(text.substr(0, slash));
  const auto prefixText = text.substr(slash + 1);
  if (!address || prefixText.empty() || prefixText.size() > 2) return std::nullopt;
  if (prefixText.size() > 1 && prefixText.front() == '0') return std::nullopt;
  int prefix = -1;
  const auto [end, error] =
      std::from_chars(prefixText.data(), prefixText.data() + prefixText.size(), prefix);
  if (error != std::errc{} || end != prefixText.data() + prefixText.size() || prefix < 0 ||
      prefix > 32)
    return std::nullopt;
  Cidr cidr{*address, prefix};
  if ((cidr.base & ~cidr.mask()) != 0) return std::nullopt;
  return cidr;
}

}  // namespace sluice
