// PeerProber: the agent's UDP peer probes. Every probeInterval it sends a probe to each of its
// witnesses (witnessesOf over the Node list) and records, per witness, when the latest probe it
// acknowledged was sent; it answers every probe it receives with an ack and records when it last
// heard each sender. The liveness reporter reads both (WitnessSource): the first to decide whether
// the node may hold egress IPs, the second for the "heard" of its reports. docs/peer-witnesses.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/peer_quorum.h"
#include "common/ipv4.h"
#include "common/result.h"
#include "common/witnesses.h"

namespace sluice::agent {

struct PeerEndpoint {
  Ipv4 ip = 0;
  std::uint16_t port = kDefaultPeerProbePort;
  bool operator==(const PeerEndpoint&) const = default;
};

struct PeerProberOptions {
  std::string nodeName{};
  std::string bindAddress = "0.0.0.0";         // tests bind 127.0.0.x
  std::uint16_t port = kDefaultPeerProbePort;  // 0: any (tests; see port())
  std::size_t witnesses = kDefaultWitnesses;   // k
  std::chrono::milliseconds probeInterval{100};
  // Called on the prober's thread after an acknowledgement was recorded (the node may now hold).
  std::function<void()> onAck{};
};

struct PeerProberStats {
  std::uint64_t probesSent = 0;    // one per witness per interval
  std::uint64_t acksReceived = 0;  // acks that matched a probe this prober sent
  std::uint64_t probesAnswered = 0;
  std::uint64_t malformed = 0;  // datagrams that were not a valid probe or ack
  // Acks for a probe it does not know (too old, or not its own) or from a node it did not probe.
  std::uint64_t unmatchedAcks = 0;
  std::uint64_t sendErrors = 0;
};

class PeerProber : public WitnessSource {
 public:
  explicit PeerProber(PeerProberOptions options);
  ~PeerProber() override;
  PeerProber(const PeerProber&) = delete;
  PeerProber& operator=(const PeerProber&) = delete;

  // Binds the socket and starts probing and answering. Fails when the port is taken.
  [[nodiscard]] Result<void> start();
  void stop();  // idempotent
  std::uint16_t port() const { return boundPort_; }

  // The other nodes that have an InternalIP (this node's own name is ignored). Any thread.
  void setPeers(std::map<std::string, PeerEndpoint> peers);

  // WitnessSource.
  WitnessSnapshot snapshot() const override;
  void confirm(const std::vector<std::string>& declared) override;

  PeerProberStats stats() const;
  // The current declared witnesses and how many acknowledged within `window`.
  std::size_t witnessCount() const;
  std::size_t reachable(std::chrono::milliseconds window) const;

 private:
  void run();
  void sendProbes(PeerTime now);
  void receive(PeerTime now);
  void probedChanged();  // with mutex_ held

  PeerProberOptions options_;
  int socket_ = -1;
  int wake_ = -1;  // eventfd: stop() wakes the thread's poll
  std::uint16_t boundPort_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex plannerMutex_;  // one witnessedBy computation at a time
  std::thread planner_;
  PeerTime started_ = PeerClock::now();

  mutable std::mutex mutex_;
  std::map<std::string, PeerEndpoint> peers_;
  WitnessSets sets_;
  std::set<std::string> probed_;                            // sets_.probed()
  std::vector<std::string> witnessedBy_;                    // whose witness this node is
  std::uint64_t sequence_ = 0;                              // of the latest probe round
  std::map<std::uint64_t, PeerTime> sentAt_;                // the latest rounds only
  std::map<std::string, PeerTime> ackedSentAt_;             // per witness: acks that vouched
  std::map<std::string, std::uint64_t> lastAckedSequence_;  // per witness: any ack (the echo)
  std::map<std::string, PeerTime> lastHeard_;               // per prober
  PeerProberStats stats_;
};

}  // namespace sluice::agent
