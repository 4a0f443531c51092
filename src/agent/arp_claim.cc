// ArpClaimer and the ARP frames it sends and reads, over AF_PACKET sockets on br-phy.
#include "agent/arp_claim.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"

namespace sluice::agent {
namespace {

constexpr std::uint16_t kArpRequest = 1;
constexpr std::uint16_t kArpReply = 2;

void putIp(std::uint8_t* at, Ipv4 ip) {
  const std::uint32_t wire = htonl(ip);
  std::memcpy(at, &wire, 4);
}

// An AF_PACKET socket for ARP on one interface; -1 if it cannot be had.
int arpSocket(const std::string& interfaceName, sockaddr_ll& address) {
  const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
  if (fd < 0) return -1;
  address = sockaddr_ll{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ARP);
  address.sll_ifindex = static_cast<int>(::if_nametoindex(interfaceName.c_str()));
  address.sll_halen = 6;
  std::fill(address.sll_addr, address.sll_addr + 6, 0xff);
  if (address.sll_ifindex == 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

ArpFrame arpRequestFrame(const MacAddress& senderMac, Ipv4 senderIp, Ipv4 targetIp) {
  ArpFrame frame{};
  std::fill(frame.begin(), frame.begin() + 6, 0xff);  // to everyone
  std::copy(senderMac.begin(), senderMac.end(), frame.begin() + 6);
  const std::array<std::uint8_t, 8> header = {0x08, 0x06,         // EtherType ARP
                                              0x00, 0x01,         // Ethernet
                                              0x08, 0x00, 6, 4};  // IPv4
  std::copy(header.begin(), header.end(), frame.begin() + 12);
  frame[20] = 0;
  frame[21] = kArpRequest;
  std::copy(senderMac.begin(), senderMac.end(), frame.begin() + 22);
  putIp(frame.data() + 28, senderIp);
  putIp(frame.data() + 38, targetIp);  // target MAC (32..37) stays zero
  return frame;
}

std::optional<Ipv4> arpReplySender(const std::uint8_t* frame, std::size_t length) {
  if (length < 42 || frame[12] != 0x08 || frame[13] != 0x06) return std::nullopt;
  if (frame[14] != 0 || frame[15] != 1 || frame[16] != 0x08 || frame[17] != 0 || frame[18] != 6 ||
      frame[19] != 4 || frame[20] != 0 || frame[21] != kArpReply)
    return std::nullopt;
  std::uint32_t wire = 0;
  std::memcpy(&wire, frame + 28, 4);
  return ntohl(wire);
}

bool sendFrame(const std::string& interfaceName, const ArpFrame& frame, int count) {
  sockaddr_ll address{};
  const int fd = arpSocket(interfaceName, address);
  if (fd < 0) return false;
  bool sent = true;
  for (int i = 0; i < count; ++i)
    sent = ::sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&address),
                    sizeof address) == static_cast<ssize_t>(frame.size()) &&
           sent;
  ::close(fd);
  return sent;
}

ArpClaimer::ArpClaimer(ArpClaimOptions options, Done done)
    : options_(std::move(options)), done_(std::move(done)), worker_([this] { run(); }) {}

ArpClaimer::~ArpClaimer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void ArpClaimer::claim(Ipv4 ip, const MacAddress& announceAs) {
  {
    std::lock_guard lock(mutex_);
    if (!pending_.insert(ip).second) return;
    queue_.push_back(Claim{ip, announceAs});
  }
  wake_.notify_one();
}

bool ArpClaimer::someoneAnswers(Ipv4 ip) const {
  sockaddr_ll address{};
  const int fd = arpSocket(options_.interfaceName, address);
  if (fd < 0) return false;  // cannot ask: do not hold the IP hostage to that
  const auto request = arpRequestFrame(options_.nodeMac, options_.nodeIp, ip);
  (void)::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&address),
                 sizeof address);
  const auto deadline = std::chrono::steady_clock::now() + options_.listen;
  bool answered = false;
  while (!answered) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0) break;
    std::array<std::uint8_t, 128> frame{};
    const auto length = ::recv(fd, frame.data(), frame.size(), 0);
    if (length <= 0) continue;
    const auto sender = arpReplySender(frame.data(), static_cast<std::size_t>(length));
    answered = sender && *sender == ip;
  }
  ::close(fd);
  return answered;
}

void ArpClaimer::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    const Claim claim = queue_.front();
    queue_.pop_front();
    lock.unlock();
    const auto started = std::chrono::steady_clock::now();
    bool contested = false;
    while (true) {
      (void)sendFrame(options_.interfaceName, arpRequestFrame(claim.announceAs, claim.ip, claim.ip),
                      options_.gratuitousArpCount);
      if (!someoneAnswers(claim.ip)) break;
      contested = true;
      if (std::chrono::steady_clock::now() - started > options_.giveUp) break;
    }
    done_(claim.ip, contested);
    lock.lock();
    pending_.erase(claim.ip);
  }
}

}  // namespace sluice::agent
