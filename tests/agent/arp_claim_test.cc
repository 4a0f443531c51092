// ARP frames for egress IP claims: what is sent, and which answers count.
#include <catch2/catch.hpp>

#include <algorithm>

#include "agent/arp_claim.h"

namespace sluice::agent {
namespace {

TEST_CASE("a gratuitous ARP is a broadcast request with sender and target the egress IP",
          "[unit]") {
  const auto mac = *parseMac("02:5c:0a:0a:00:08");
  const auto ip = *parseIpv4("10.10.0.8");
  const auto frame = arpRequestFrame(mac, ip, ip);
  CHECK(std::all_of(frame.begin(), frame.begin() + 6, [](auto byte) { return byte == 0xff; }));
  CHECK(std::equal(mac.begin(), mac.end(), frame.begin() + 6));   // Ethernet source
  CHECK((frame[12] == 0x08 && frame[13] == 0x06));                // ARP
  CHECK((frame[20] == 0 && frame[21] == 1));                      // a request
  CHECK(std::equal(mac.begin(), mac.end(), frame.begin() + 22));  // sender MAC
  CHECK((frame[28] == 10 && frame[29] == 10 && frame[30] == 0 && frame[31] == 8));
  CHECK((frame[38] == 10 && frame[39] == 10 && frame[40] == 0 && frame[41] == 8));
  CHECK_FALSE(arpReplySender(frame.data(), frame.size()));  // a request is no answer
}

TEST_CASE("only an ARP reply names who answers", "[unit]") {
  auto reply = arpRequestFrame(*parseMac("02:5c:0a:0a:00:08"), *parseIpv4("10.10.0.8"),
                               *parseIpv4("10.10.2.3"));
  reply[21] = 2;
  CHECK(arpReplySender(reply.data(), reply.size()) == parseIpv4("10.10.0.8"));
  CHECK_FALSE(arpReplySender(reply.data(), 41));  // truncated
  reply[13] = 0x00;                               // IPv4, not ARP
  CHECK_FALSE(arpReplySender(reply.data(), reply.size()));
  CHECK_FALSE(parseMac("02:5c:0a:0a:00"));
  CHECK_FALSE(parseMac("02:5c:0a:0a:00:08:ff"));
}

}  // namespace
}  // namespace sluice::agent
