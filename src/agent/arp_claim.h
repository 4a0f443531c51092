// ARP on the physical bridge for egress IPs: gratuitous ARP on takeover, and the claim that comes
// before it. A node answers ARP for an egress IP only once no other node does: it announces
// itself (GARP), asks who has the IP, and owns it when nobody answers. A node whose agent was
// killed cannot be told to let go; its datapath steps aside when it hears the GARP
// (docs/egress-datapath.md), and the claim waits for that.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/ipv4.h"
#include "common/mac_address.h"

namespace sluice::agent {

using ArpFrame = std::array<std::uint8_t, 42>;

// A broadcast ARP request from `senderMac`/`senderIp` for `targetIp`. A gratuitous ARP is the
// request form with sender and target both the announced IP.
ArpFrame arpRequestFrame(const MacAddress& senderMac, Ipv4 senderIp, Ipv4 targetIp);
// The sender IP of an ARP reply (op 2) in an Ethernet frame; nothing for anything else.
std::optional<Ipv4> arpReplySender(const std::uint8_t* frame, std::size_t length);

// Sends `frame` `count` times out of `interfaceName` (an AF_PACKET socket); whether it could.
bool sendFrame(const std::string& interfaceName, const ArpFrame& frame, int count);

struct ArpClaimOptions {
  std::string interfaceName;  // br-phy: its LOCAL port
  MacAddress nodeMac{};       // the asker's MAC, where answers come back
  Ipv4 nodeIp = 0;
  int gratuitousArpCount = 3;
  std::chrono::milliseconds listen{30};    // silence that counts as nobody answering
  std::chrono::milliseconds giveUp{2000};  // then own anyway, and say so
};

// One thread claims IPs in turn: GARP, ask, listen; repeat while someone answers.
class ArpClaimer {
 public:
  using Done = std::function<void(Ipv4 ip, bool contested)>;
  ArpClaimer(ArpClaimOptions options, Done done);
  ~ArpClaimer();
  ArpClaimer(const ArpClaimer&) = delete;
  ArpClaimer& operator=(const ArpClaimer&) = delete;

  // Claims `ip`, announcing it from `announceAs` (its floating MAC); done() is called on the
  // claimer's thread. A no-op while that IP's claim is under way.
  void claim(Ipv4 ip, const MacAddress& announceAs);

 private:
  struct Claim {
    Ipv4 ip;
    MacAddress announceAs;
  };
  void run();
  bool someoneAnswers(Ipv4 ip) const;

  ArpClaimOptions options_;
  Done done_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Claim> queue_;
  std::set<Ipv4> pending_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace sluice::agent
