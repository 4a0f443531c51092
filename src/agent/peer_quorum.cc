// Peer witnesses' pure part (peer_quorum.h).
#include "agent/peer_quorum.h"

#include <algorithm>
#include <set>

#include "common/witnesses.h"

namespace sluice::agent {
namespace {

constexpr std::string_view kMagic = "SLPW";

bool validName(std::string_view name) {
  if (name.empty() || name.size() > kMaxPeerNodeName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// Until when one set has a strict majority: the majority-th most recent acknowledgement.
std::optional<PeerTime> setUntil(const std::vector<std::string>& witnesses,
                                 const std::map<std::string, PeerTime>& ackedSentAt,
                                 std::chrono::milliseconds fencingTimeout) {
  std::vector<PeerTime> times;
  for (const auto& witness : witnesses)
    if (const auto found = ackedSentAt.find(witness); found != ackedSentAt.end())
      times.push_back(found->second);
  const std::size_t majority = witnesses.size() / 2 + 1;
  if (!isMajority(times.size(), witnesses.size())) return std::nullopt;
  std::sort(times.begin(), times.end(), std::greater<>());
  return times[majority - 1] + fencingTimeout;
}

}  // namespace

std::string encodePeerMessage(const PeerMessage& message) {
  std::string out(kMagic);
  out.push_back(static_cast<char>(kPeerMessageVersion));
  out.push_back(static_cast<char>(message.kind));
  for (const std::uint64_t value : {message.sequence, message.echo})
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((value >> shift) & 0xff));
  out.push_back(static_cast<char>(message.vouched ? 1 : 0));
  out.push_back(static_cast<char>(message.sender.size()));
  out += message.sender;
  return out;
}

std::optional<PeerMessage> decodePeerMessage(std::string_view datagram) {
  if (datagram.size() < kPeerMessageHeader || datagram.substr(0, kMagic.size()) != kMagic)
    return std::nullopt;
  const auto byte = [&](std::size_t at) { return static_cast<std::uint8_t>(datagram[at]); };
  if (byte(4) != kPeerMessageVersion) return std::nullopt;
  PeerMessage message;
  if (byte(5) == static_cast<std::uint8_t>(PeerMessageKind::kProbe))
    message.kind = PeerMessageKind::kProbe;
  else if (byte(5) == static_cast<std::uint8_t>(PeerMessageKind::kAck))
    message.kind = PeerMessageKind::kAck;
  else
    return std::nullopt;
  for (std::size_t at = 6; at < 14; ++at) message.sequence = (message.sequence << 8) | byte(at);
  for (std::size_t at = 14; at < 22; ++at) message.echo = (message.echo << 8) | byte(at);
  if (byte(22) > 1) return std::nullopt;
  message.vouched = byte(22) == 1;
  const std::size_t length = byte(23);
  if (datagram.size() != kPeerMessageHeader + length) return std::nullopt;
  const auto name = datagram.substr(kPeerMessageHeader);
  if (!validName(name)) return std::nullopt;
  message.sender = std::string(name);
  return message;
}

void WitnessSets::propose(std::vector<std::string> witnesses) {
  auto next = sorted(std::move(witnesses));
  if (confirmed_ && *confirmed_ == next) {
    // Back to the set the leader knows: it counts that one (as its current or previous set).
    proposed_.reset();
    return;
  }
  proposed_ = std::move(next);
}

void WitnessSets::confirm(std::vector<std::string> declared) {
  auto set = sorted(std::move(declared));
  if (proposed_) {
    if (*proposed_ != set) return;  // an older proposal (or the old set): the change still waits
    confirmed_ = std::move(set);
    proposed_.reset();
    return;
  }
  if (!confirmed_) confirmed_ = std::move(set);
}

std::vector<std::string> WitnessSets::declared() const {
  if (proposed_) return *proposed_;
  return confirmed_.value_or(std::vector<std::string>{});
}

std::vector<std::vector<std::string>> WitnessSets::required() const {
  std::vector<std::vector<std::string>> sets{confirmed_.value_or(std::vector<std::string>{})};
  if (proposed_) sets.push_back(*proposed_);
  return sets;
}

std::vector<std::string> WitnessSets::probed() const {
  std::set<std::string> all;
  if (confirmed_) all.insert(confirmed_->begin(), confirmed_->end());
  if (proposed_) all.insert(proposed_->begin(), proposed_->end());
  return {all.begin(), all.end()};
}

Holding holdingOf(const HoldingInputs& inputs) {
  Holding holding;
  if (inputs.leaderAckedSentAt)
    holding.leaderUntil = *inputs.leaderAckedSentAt + inputs.fencingTimeout;
  for (const auto& set : inputs.witnessSets) {
    const auto until = setUntil(set, inputs.witnessAckedSentAt, inputs.fencingTimeout);
    if (!until) {
      holding.witnessesUntil.reset();
      break;
    }
    holding.witnessesUntil =
        holding.witnessesUntil ? std::min(*holding.witnessesUntil, *until) : *until;
  }
  holding.until = holding.leaderUntil;
  if (holding.witnessesUntil && (!holding.until || *holding.witnessesUntil > *holding.until))
    holding.until = holding.witnessesUntil;
  return holding;
}

std::size_t reachableWitnesses(const std::vector<std::string>& witnesses,
                               const std::map<std::string, PeerTime>& ackedSentAt, PeerTime now,
                               std::chrono::milliseconds fencingTimeout) {
  return static_cast<std::size_t>(
      std::count_if(witnesses.begin(), witnesses.end(), [&](const std::string& witness) {
        const auto found = ackedSentAt.find(witness);
        return found != ackedSentAt.end() && now < found->second + fencingTimeout;
      }));
}

}  // namespace sluice::agent
