// Peer witnesses, the pure part: the probe datagram's encoding, the witness sets a node counts
// (joint while a Node-list change is unconfirmed), and the holding rule: a node may hold egress
// IPs while the leader, or a strict majority of its witnesses, acknowledged something it sent
// less than fencingTimeout ago. The sockets are in peer_prober.*, the reports in
// liveness_reporter.*; docs/peer-witnesses.md describes the whole.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::agent {

inline constexpr std::uint16_t kDefaultPeerProbePort = 10351;

using PeerClock = std::chrono::steady_clock;
using PeerTime = PeerClock::time_point;

// The datagram: "SLPW", version 1, kind, sequence and echo (64 bits each, big-endian), a flags
// byte, the sender's node name (one length byte, then the name). Anything else is malformed and
// ignored.
//
// Contact must be two-way before a witness vouches for a node: a probe echoes the latest of the
// sender's probes this witness acknowledged, and the witness vouches (records the node as heard,
// and says so in its ack) only when that echo is at most kPeerEchoLag probes old. A node that can
// send but no longer receive (a one-way cut) keeps sending probes, but its witnesses stop vouching
// for it within kPeerEchoLag rounds, so the controller can move its IPs; and the node counts only
// acks that vouch, so a witness never says "silent" about a node it vouched for.
enum class PeerMessageKind : std::uint8_t { kProbe = 1, kAck = 2 };

inline constexpr std::uint64_t kPeerEchoLag = 2;

struct PeerMessage {
  PeerMessageKind kind = PeerMessageKind::kProbe;
  std::uint64_t sequence = 0;  // an ack echoes the probe's
  std::uint64_t echo = 0;      // a probe: the latest of the sender's probes the receiver acked
  bool vouched = false;        // an ack: the witness counted the probe as two-way contact
  std::string sender;          // the node that sent this datagram
  bool operator==(const PeerMessage&) const = default;
};

inline constexpr std::uint8_t kPeerMessageVersion = 1;
inline constexpr std::size_t kPeerMessageHeader = 4 + 1 + 1 + 8 + 8 + 1 + 1;
inline constexpr std::size_t kMaxPeerNodeName = 253;  // a DNS subdomain, like a Node's name
inline constexpr std::size_t kMaxPeerMessage = kPeerMessageHeader + kMaxPeerNodeName;

// Whether a probe with `sequence` and `echo` shows two-way contact (see above).
constexpr bool vouchesFor(std::uint64_t sequence, std::uint64_t echo) {
  return echo != 0 && echo <= sequence && sequence - echo <= kPeerEchoLag;
}

// The sender's name must be 1 to 253 printable ASCII characters (the caller checks its own).
std::string encodePeerMessage(const PeerMessage& message);
std::optional<PeerMessage> decodePeerMessage(std::string_view datagram);

// The sets of witnesses a node counts. A Node-list change proposes a new set; until the leader has
// acknowledged a report that declared it, the node needs a majority in the old set AND the new one,
// so that whichever of the two the controller checks, a majority it counts on overlaps. A starting
// agent has no confirmed set: witnesses alone cannot make it hold until the leader has heard it.
// Sets are kept sorted.
class WitnessSets {
 public:
  // The witnesses of the current Node list (witnessesOf).
  void propose(std::vector<std::string> witnesses);
  // The leader acknowledged a report that declared `declared`.
  void confirm(std::vector<std::string> declared);

  // What reports declare: the proposed set while a change is pending, else the confirmed one.
  std::vector<std::string> declared() const;
  // Each set needs a strict majority for the node to hold by its witnesses. An empty set (no
  // confirmed set yet, or a one-node cluster) never has one.
  std::vector<std::vector<std::string>> required() const;
  // Every witness of every required set (whom to probe).
  std::vector<std::string> probed() const;
  bool pending() const { return proposed_.has_value(); }
  bool confirmed() const { return confirmed_.has_value(); }

 private:
  std::optional<std::vector<std::string>> confirmed_;
  std::optional<std::vector<std::string>> proposed_;
};

struct HoldingInputs {
  // When the latest report the LEADER acknowledged was sent (a standby's answer does not count).
  std::optional<PeerTime> leaderAckedSentAt;
  // WitnessSets::required(): each needs a strict majority.
  std::vector<std::vector<std::string>> witnessSets;
  // Per witness, when the latest probe it acknowledged was sent.
  std::map<std::string, PeerTime> witnessAckedSentAt;
  std::chrono::milliseconds fencingTimeout{300};
};

struct Holding {
  // The node may hold egress IPs before this instant, on what it knows (nullopt: not at all).
  // Acknowledgements are timed from when what they acknowledge was SENT: a reply that took longer
  // than fencingTimeout proves nothing about now.
  std::optional<PeerTime> until;
  std::optional<PeerTime> leaderUntil;     // rule (a) alone
  std::optional<PeerTime> witnessesUntil;  // rule (b) alone (every required set)
  bool holds(PeerTime now) const { return until && now < *until; }
};

Holding holdingOf(const HoldingInputs& inputs);

// How many of `witnesses` acknowledged a probe sent within fencingTimeout before `now`.
std::size_t reachableWitnesses(const std::vector<std::string>& witnesses,
                               const std::map<std::string, PeerTime>& ackedSentAt, PeerTime now,
                               std::chrono::milliseconds fencingTimeout);

// What the liveness reporter needs from the peer probes (PeerProber; a fake in tests).
struct WitnessSnapshot {
  std::vector<std::vector<std::string>> required;  // WitnessSets::required()
  std::vector<std::string> declared;               // WitnessSets::declared()
  std::map<std::string, PeerTime> ackedSentAt;     // per witness
  std::map<std::string, std::int64_t> heardMs;     // the report's "heard"
};

class WitnessSource {
 public:
  virtual ~WitnessSource() = default;
  virtual WitnessSnapshot snapshot() const = 0;
  // The leader acknowledged a report that declared `declared` (WitnessSets::confirm).
  virtual void confirm(const std::vector<std::string>& declared) = 0;
};

}  // namespace sluice::agent
