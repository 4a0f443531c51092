// The peer witnesses' pure part: the datagram's encoding, the joint witness sets, and the holding
// rule on a fake clock (time points built by hand).
#include "agent/peer_quorum.h"

#include <catch2/catch.hpp>

namespace sluice::agent {
namespace {

using namespace std::chrono_literals;
using Strings = std::vector<std::string>;

// A fake clock: instants as milliseconds after an arbitrary origin.
PeerTime at(int ms) { return PeerTime{} + std::chrono::hours(1) + std::chrono::milliseconds(ms); }

TEST_CASE("peer messages round-trip, and anything else is malformed", "[unit]") {
  const PeerMessage probe{.kind = PeerMessageKind::kProbe,
                          .sequence = 0x0102030405060708ULL,
                          .echo = 0x0102030405060706ULL,
                          .sender = "node07"};
  const auto encoded = encodePeerMessage(probe);
  CHECK(encoded.size() == kPeerMessageHeader + 6);
  CHECK(encoded.substr(0, 4) == "SLPW");
  CHECK(decodePeerMessage(encoded) == probe);
  const PeerMessage ack{
      .kind = PeerMessageKind::kAck, .sequence = 1, .vouched = true, .sender = "n"};
  CHECK(decodePeerMessage(encodePeerMessage(ack)) == ack);
  const PeerMessage longest{.kind = PeerMessageKind::kAck,
                            .sequence = ~0ULL,
                            .sender = std::string(kMaxPeerNodeName, 'a')};
  CHECK(decodePeerMessage(encodePeerMessage(longest)) == longest);

  CHECK_FALSE(decodePeerMessage(""));
  CHECK_FALSE(decodePeerMessage(encoded.substr(0, encoded.size() - 1)));  // truncated name
  CHECK_FALSE(decodePeerMessage(encoded + "x"));                          // trailing bytes
  auto badMagic = encoded;
  badMagic[0] = 'X';
  CHECK_FALSE(decodePeerMessage(badMagic));
  auto badVersion = encoded;
  badVersion[4] = 2;
  CHECK_FALSE(decodePeerMessage(badVersion));
  auto badKind = encoded;
  badKind[5] = 3;
  CHECK_FALSE(decodePeerMessage(badKind));
  auto badFlags = encoded;
  badFlags[22] = 2;
  CHECK_FALSE(decodePeerMessage(badFlags));
  auto noName = encodePeerMessage(probe).substr(0, kPeerMessageHeader);
  noName[23] = 0;
  CHECK_FALSE(decodePeerMessage(noName));
  auto badName = encoded;
  badName[kPeerMessageHeader] = ' ';
  CHECK_FALSE(decodePeerMessage(badName));
}

TEST_CASE("a witness vouches only for two-way contact: a recent echo", "[unit]") {
  CHECK_FALSE(vouchesFor(5, 0));  // never acknowledged: one-way so far
  CHECK(vouchesFor(5, 5));
  CHECK(vouchesFor(5, 4));
  CHECK(vouchesFor(5, 3));
  CHECK_FALSE(vouchesFor(5, 2));  // acks stopped arriving: it can send but not receive
  CHECK_FALSE(vouchesFor(5, 6));  // an echo from the future is not ours
}

TEST_CASE("the leader's acknowledgement alone holds for fencingTimeout after the send", "[unit]") {
  HoldingInputs inputs{.leaderAckedSentAt = at(1000),
                       .witnessSets = {{"a", "b", "c"}},
                       .witnessAckedSentAt = {},
                       .fencingTimeout = 300ms};
  const auto holding = holdingOf(inputs);
  REQUIRE(holding.until);
  CHECK(*holding.until == at(1300));
  CHECK_FALSE(holding.witnessesUntil);
  CHECK(holding.holds(at(1299)));
  CHECK_FALSE(holding.holds(at(1300)));
}

TEST_CASE("a majority of the witnesses alone holds; the majority-th latest send counts", "[unit]") {
  HoldingInputs inputs{.leaderAckedSentAt = std::nullopt,
                       .witnessSets = {{"a", "b", "c", "d", "e"}},
                       .witnessAckedSentAt = {{"a", at(1000)}, {"b", at(900)}, {"c", at(800)}},
                       .fencingTimeout = 300ms};
  auto holding = holdingOf(inputs);
  REQUIRE(holding.until);
  CHECK(*holding.until == at(1100));  // 3 of 5: the third latest, c at 800
  CHECK_FALSE(holding.leaderUntil);
  CHECK(holding.holds(at(1099)));
  CHECK_FALSE(holding.holds(at(1100)));
  inputs.witnessAckedSentAt["d"] = at(1050);
  CHECK(*holdingOf(inputs).until == at(1200));  // now b at 900 is the third latest
  // Both rules: whichever lasts longer.
  inputs.leaderAckedSentAt = at(950);
  CHECK(*holdingOf(inputs).until == at(1250));
  inputs.leaderAckedSentAt = at(850);
  CHECK(*holdingOf(inputs).until == at(1200));
}

TEST_CASE("a minority of the witnesses, with no leader, is fenced", "[unit]") {
  HoldingInputs inputs{.leaderAckedSentAt = std::nullopt,
                       .witnessSets = {{"a", "b", "c", "d", "e"}},
                       .witnessAckedSentAt = {{"a", at(1000)}, {"b", at(1000)}},
                       .fencingTimeout = 300ms};
  CHECK_FALSE(holdingOf(inputs).until);
  CHECK_FALSE(holdingOf(inputs).holds(at(1001)));
  // Acks from nodes outside the set count for nothing.
  inputs.witnessAckedSentAt["x"] = at(1000);
  inputs.witnessAckedSentAt["y"] = at(1000);
  CHECK_FALSE(holdingOf(inputs).until);
  // Two of four is not a strict majority.
  inputs.witnessSets = {{"a", "b", "c", "d"}};
  CHECK_FALSE(holdingOf(inputs).until);
}

TEST_CASE("with no witnesses (one node) only the leader can make the node hold", "[unit]") {
  HoldingInputs inputs{.leaderAckedSentAt = std::nullopt,
                       .witnessSets = {{}},
                       .witnessAckedSentAt = {},
                       .fencingTimeout = 300ms};
  CHECK_FALSE(holdingOf(inputs).until);
  inputs.leaderAckedSentAt = at(0);
  CHECK(*holdingOf(inputs).until == at(300));
}

TEST_CASE("a reply that took longer than fencingTimeout proves nothing", "[unit]") {
  // The leader answered at 1400 a report sent at 1000; three witnesses answered as late.
  HoldingInputs inputs{.leaderAckedSentAt = at(1000),
                       .witnessSets = {{"a", "b", "c"}},
                       .witnessAckedSentAt = {{"a", at(1000)}, {"b", at(1000)}, {"c", at(1000)}},
                       .fencingTimeout = 300ms};
  CHECK_FALSE(holdingOf(inputs).holds(at(1400)));
}

TEST_CASE("a witness-set change is joint until the leader confirms the new set", "[unit]") {
  WitnessSets sets;
  // A starting agent: no confirmed set, so its witnesses alone cannot make it hold.
  CHECK_FALSE(sets.confirmed());
  sets.propose({"c", "a", "b"});
  CHECK(sets.declared() == Strings{"a", "b", "c"});
  CHECK(sets.required() == std::vector<Strings>{{}, {"a", "b", "c"}});
  HoldingInputs inputs{.leaderAckedSentAt = std::nullopt,
                       .witnessSets = sets.required(),
                       .witnessAckedSentAt = {{"a", at(0)}, {"b", at(0)}, {"c", at(0)}},
                       .fencingTimeout = 300ms};
  CHECK_FALSE(holdingOf(inputs).until);
  sets.confirm({"a", "b", "c"});
  CHECK_FALSE(sets.pending());
  inputs.witnessSets = sets.required();
  CHECK(*holdingOf(inputs).until == at(300));

  // A Node-list change: c left, d and e joined. Until the leader has heard of {a,b,d,e}, the
  // node needs a majority of {a,b,c} AND of {a,b,d,e}.
  sets.propose({"a", "b", "d", "e"});
  CHECK(sets.pending());
  CHECK(sets.declared() == Strings{"a", "b", "d", "e"});
  CHECK(sets.probed() == Strings{"a", "b", "c", "d", "e"});
  inputs.witnessSets = sets.required();
  inputs.witnessAckedSentAt = {{"c", at(0)}, {"d", at(0)}, {"e", at(0)}};
  CHECK_FALSE(holdingOf(inputs).until);  // a majority of the new set, a minority of the old
  inputs.witnessAckedSentAt = {{"a", at(0)}, {"b", at(0)}};
  CHECK_FALSE(holdingOf(inputs).until);  // a majority of the old set, half of the new
  // Both: old {a,b,c} holds until c's 30 + 300, new {a,b,d,e} until b's 10 + 300.
  inputs.witnessAckedSentAt = {{"a", at(50)}, {"b", at(10)}, {"c", at(30)}, {"d", at(20)}};
  CHECK(*holdingOf(inputs).until == at(310));

  // A confirmation of another set (an older report) changes nothing.
  sets.confirm({"a", "b", "c"});
  CHECK(sets.pending());
  sets.confirm({"e", "d", "b", "a"});
  CHECK_FALSE(sets.pending());
  CHECK(sets.required() == std::vector<Strings>{{"a", "b", "d", "e"}});
  inputs.witnessSets = sets.required();
  inputs.witnessAckedSentAt = {{"c", at(0)}, {"d", at(0)}, {"e", at(0)}};
  CHECK_FALSE(holdingOf(inputs).until);  // 2 of 4 now
  inputs.witnessAckedSentAt["a"] = at(0);
  CHECK(holdingOf(inputs).until);

  // Back to the confirmed set before a pending change was confirmed: nothing pending.
  sets.propose({"a", "b", "f", "g"});
  CHECK(sets.pending());
  sets.propose({"a", "b", "d", "e"});
  CHECK_FALSE(sets.pending());
}

TEST_CASE("reachableWitnesses counts acks of probes sent within the window", "[unit]") {
  const std::map<std::string, PeerTime> acked{{"a", at(1000)}, {"b", at(700)}, {"x", at(1000)}};
  CHECK(reachableWitnesses({"a", "b", "c"}, acked, at(1100), 300ms) == 1);
  CHECK(reachableWitnesses({"a", "b", "c"}, acked, at(990), 300ms) == 2);
}

}  // namespace
}  // namespace sluice::agent
