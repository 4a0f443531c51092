// PeerProber: one UDP socket, one thread that sends a round of probes every probeInterval and
// answers and records what arrives in between (peer_prober.h).
#include "agent/peer_prober.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "common/log.h"

namespace sluice::agent {
namespace {

// Probe rounds whose send time is kept to match acks: an ack for an older round would be far past
// any fencingTimeout anyway.
constexpr std::size_t kKeptRounds = 64;
// At most this many senders are remembered (only Node names survive a Node-list change), so a
// flood of made-up names cannot grow the map.
constexpr std::size_t kMaxHeard = 1024;

sockaddr_in socketAddress(Ipv4 ip, std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(ip);
  return address;
}

std::string errnoText(int error) { return std::strerror(error); }

}  // namespace

PeerProber::PeerProber(PeerProberOptions options) : options_(std::move(options)) {}

PeerProber::~PeerProber() {
  stop();
  std::lock_guard plan(plannerMutex_);
  if (planner_.joinable()) planner_.join();
}

Result<void> PeerProber::start() {
  if (options_.nodeName.empty() || options_.nodeName.size() > kMaxPeerNodeName)
    return makeError("peer probes: the node name must be 1 to 253 characters; set NODE_NAME");
  if (options_.probeInterval.count() <= 0)
    return makeError("peer probes: the probe interval (reportInterval) must be positive");
  const auto bindIp = parseIpv4(options_.bindAddress);
  if (!bindIp) return makeError("peer probes: bad bind address " + options_.bindAddress);
  socket_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (socket_ < 0) return makeError("peer probes: socket: " + errnoText(errno));
  const auto address = socketAddress(*bindIp, options_.port);
  if (::bind(socket_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    ::close(socket_);
    socket_ = -1;
    return makeError("peer probes: cannot bind UDP " + options_.bindAddress + ":" +
                     std::to_string(options_.port) + ": " + errnoText(error) +
                     "; another process holds the port? Set peerProbePort in sluice-agent.conf "
                     "(the same on every node)");
  }
  sockaddr_in bound{};
  socklen_t length = sizeof bound;
  ::getsockname(socket_, reinterpret_cast<sockaddr*>(&bound), &length);
  boundPort_ = ntohs(bound.sin_port);
  wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_ < 0) {
    ::close(socket_);
    socket_ = -1;
    return makeError("peer probes: eventfd: " + errnoText(errno));
  }
  {
    // A restarted agent must not take a late ack meant for its previous life for its own.
    std::random_device random;
    std::lock_guard lock(mutex_);
    sequence_ = (std::uint64_t{random()} << 32) | random();
    started_ = PeerClock::now();
  }
  thread_ = std::thread([this] { run(); });
  return {};
}

void PeerProber::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  for (int* fd : {&socket_, &wake_})
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
}

void PeerProber::setPeers(std::map<std::string, PeerEndpoint> peers) {
  peers.erase(options_.nodeName);
  std::vector<std::string> names{options_.nodeName};
  for (const auto& [name, endpoint] : peers) names.push_back(name);
  auto witnesses = witnessesOf(options_.nodeName, names, options_.witnesses);
  {
    std::lock_guard lock(mutex_);
    sets_.propose(std::move(witnesses));
    std::erase_if(lastHeard_, [&](const auto& entry) { return !peers.contains(entry.first); });
    peers_ = std::move(peers);
    probedChanged();
  }
  // witnessedBy ranks every node's candidates (about 0.1 s at 1,000 nodes): on a thread of its
  // own, so that neither the caller (the agent's loop) nor the probes wait for it. Only the
  // reports' "heard" uses it, and every node that probes this one is in it anyway.
  std::lock_guard plan(plannerMutex_);
  if (planner_.joinable()) planner_.join();
  planner_ = std::thread([this, names = std::move(names)] {
    auto watched = witnessedBy(options_.nodeName, names, options_.witnesses);
    std::lock_guard lock(mutex_);
    witnessedBy_ = std::move(watched);
  });
}

WitnessSnapshot PeerProber::snapshot() const {
  const auto now = PeerClock::now();
  std::lock_guard lock(mutex_);
  WitnessSnapshot snapshot{.required = sets_.required(),
                           .declared = sets_.declared(),
                           .ackedSentAt = ackedSentAt_,
                           .heardMs = {}};
  auto sinceMs = [&](PeerTime then) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - then).count();
  };
  // Never heard: since this prober started, the most it could have heard of them.
  for (const auto& node : witnessedBy_) snapshot.heardMs[node] = sinceMs(started_);
  for (const auto& [node, heard] : lastHeard_) snapshot.heardMs[node] = sinceMs(heard);
  return snapshot;
}

void PeerProber::confirm(const std::vector<std::string>& declared) {
  std::lock_guard lock(mutex_);
  sets_.confirm(declared);
  probedChanged();
}

void PeerProber::probedChanged() {
  const auto probed = sets_.probed();
  probed_ = std::set<std::string>(probed.begin(), probed.end());
  std::erase_if(ackedSentAt_, [&](const auto& entry) { return !probed_.contains(entry.first); });
  std::erase_if(lastAckedSequence_,
                [&](const auto& entry) { return !probed_.contains(entry.first); });
}

PeerProberStats PeerProber::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::size_t PeerProber::witnessCount() const {
  std::lock_guard lock(mutex_);
  return sets_.declared().size();
}

std::size_t PeerProber::reachable(std::chrono::milliseconds window) const {
  const auto now = PeerClock::now();
  std::lock_guard lock(mutex_);
  return reachableWitnesses(sets_.declared(), ackedSentAt_, now, window);
}

void PeerProber::run() {
  auto nextProbe = PeerClock::now();
  while (!stopping_) {
    auto now = PeerClock::now();
    if (now >= nextProbe) {
      sendProbes(now);
      nextProbe += options_.probeInterval;
      if (nextProbe <= now) nextProbe = now + options_.probeInterval;  // late: skip, never burst
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(nextProbe - now);
    pollfd fds[2] = {{.fd = socket_, .events = POLLIN, .revents = 0},
                     {.fd = wake_, .events = POLLIN, .revents = 0}};
    const int ready = ::poll(fds, 2, static_cast<int>(std::max<std::int64_t>(wait.count(), 0)));
    if (ready < 0 && errno != EINTR) {
      SLUICE_LOG(kError, "peers") << "poll: " << errnoText(errno);
      break;
    }
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) receive(PeerClock::now());
  }
}

void PeerProber::sendProbes(PeerTime now) {
  // One datagram per witness: each echoes the latest probe that witness acknowledged.
  std::vector<std::pair<PeerEndpoint, std::string>> targets;
  {
    std::lock_guard lock(mutex_);
    ++sequence_;
    sentAt_[sequence_] = now;
    while (sentAt_.size() > kKeptRounds) sentAt_.erase(sentAt_.begin());
    for (const auto& witness : probed_) {
      const auto found = peers_.find(witness);
      if (found == peers_.end()) continue;
      const auto echo = lastAckedSequence_.find(witness);
      targets.emplace_back(
          found->second,
          encodePeerMessage(PeerMessage{.kind = PeerMessageKind::kProbe,
                                        .sequence = sequence_,
                                        .echo = echo == lastAckedSequence_.end() ? 0 : echo->second,
                                        .sender = options_.nodeName}));
    }
  }
  std::uint64_t sent = 0;
  std::uint64_t failed = 0;
  for (const auto& [endpoint, datagram] : targets) {
    const auto address = socketAddress(endpoint.ip, endpoint.port);
    if (::sendto(socket_, datagram.data(), datagram.size(), 0,
                 reinterpret_cast<const sockaddr*>(&address), sizeof address) < 0)
      ++failed;  // unreachable right now: the missing ack says it
    else
      ++sent;
  }
  std::lock_guard lock(mutex_);
  stats_.probesSent += sent;
  stats_.sendErrors += failed;
}

void PeerProber::receive(PeerTime now) {
  char buffer[kMaxPeerMessage + 1];
  bool acked = false;
  while (true) {
    sockaddr_in from{};
    socklen_t length = sizeof from;
    const auto size =
        ::recvfrom(socket_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &length);
    if (size < 0) break;  // EAGAIN: drained (errors of earlier sends are not ours to act on)
    const auto message =
        decodePeerMessage(std::string_view(buffer, static_cast<std::size_t>(size)));
    std::lock_guard lock(mutex_);
    if (!message) {
      ++stats_.malformed;
      continue;
    }
    if (message->kind == PeerMessageKind::kProbe) {
      const bool vouched = vouchesFor(message->sequence, message->echo);
      if (vouched && (lastHeard_.size() < kMaxHeard || lastHeard_.contains(message->sender)))
        lastHeard_[message->sender] = now;
      const auto ack = encodePeerMessage(PeerMessage{.kind = PeerMessageKind::kAck,
                                                     .sequence = message->sequence,
                                                     .vouched = vouched,
                                                     .sender = options_.nodeName});
      if (::sendto(socket_, ack.data(), ack.size(), 0, reinterpret_cast<const sockaddr*>(&from),
                   length) < 0)
        ++stats_.sendErrors;
      else
        ++stats_.probesAnswered;
      continue;
    }
    const auto sent = sentAt_.find(message->sequence);
    if (sent == sentAt_.end() || !probed_.contains(message->sender)) {
      ++stats_.unmatchedAcks;
      continue;
    }
    ++stats_.acksReceived;
    auto& echo = lastAckedSequence_[message->sender];
    echo = std::max(echo, message->sequence);
    if (!message->vouched) continue;  // contact not yet two-way: it does not count
    auto& latest = ackedSentAt_[message->sender];
    latest = std::max(latest, sent->second);
    acked = true;
  }
  if (acked && options_.onAck) options_.onAck();
}

}  // namespace sluice::agent
