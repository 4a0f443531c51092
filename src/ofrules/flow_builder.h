// FlowBuilder: builds validated ofrules::Flow values with canonical ovs-ofctl match/action strings.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ofrules/actions.h"
#include "ofrules/fields.h"
#include "ofrules/flow.h"
#include "ofrules/pipeline.h"
#include "ofrules/values.h"

namespace sluice::ofrules {

// The protocol keyword that leads a match ("ip", "arp", "tcp", ...). L3/L4 fields require one.
enum class Protocol : std::uint8_t { kIp, kArp, kTcp, kUdp, kIcmp, kSctp };
std::string_view protocolName(Protocol protocol);

enum class CtFlag : std::uint8_t { kNew, kEst, kRel, kRpl, kInv, kTrk, kSnat, kDnat };

// A ct_state match: flags that must be set (+) or clear (-).
//   CtState().with(CtFlag::kTrk).with(CtFlag::kNew).without(CtFlag::kRpl)  ->  "+new-rpl+trk"
class CtState {
 public:
  CtState& with(CtFlag flag);
  CtState& without(CtFlag flag);
  // Flags in OVS's bit order, so the string equals what ovs-ofctl dump-flows prints.
  std::string render() const;
  // A flag both required set and clear.
  std::optional<CtFlag> contradiction() const;
  bool demandsSet(CtFlag flag) const { return (with_ >> static_cast<unsigned>(flag)) & 1u; }
  bool operator==(const CtState&) const = default;

 private:
  std::uint8_t with_ = 0;
  std::uint8_t without_ = 0;
};

// Builds one flow:
//   FlowBuilder(pipeline.table(Table::kL3Forwarding)).priority(200).cookie(cookie)
//       .matchProtocol(Protocol::kIp).matchIpDst("10.244.2.0/24")
//       .setTunnelDst("192.168.1.12").loadMark(kOfPortFound).gotoTable(Table::kL3DecTtl).build();
// Every mistake is collected and reported by build(), naming the table, priority and match.
class FlowBuilder : public ActionBuilder<FlowBuilder> {
 public:
  explicit FlowBuilder(TableRef table);

  FlowBuilder& priority(std::uint16_t priority);
  FlowBuilder& cookie(Cookie cookie);

  FlowBuilder& matchProtocol(Protocol protocol);
  FlowBuilder& matchInPort(std::uint32_t port);
  FlowBuilder& matchInPortLocal();                 // the bridge's own port (in_port=LOCAL)
  FlowBuilder& matchEthSrc(std::string_view mac);  // "aa:bb:cc:dd:ee:ff" or ".../mask"
  FlowBuilder& matchEthDst(std::string_view mac);
  FlowBuilder& matchEthType(std::uint16_t ethType);  // only without matchProtocol
  FlowBuilder& matchArpOp(std::uint16_t op);
  FlowBuilder& matchArpSpa(std::string_view cidr);
  FlowBuilder& matchArpTpa(std::string_view cidr);
  FlowBuilder& matchArpSha(std::string_view mac);
  FlowBuilder& matchArpTha(std::string_view mac);
  FlowBuilder& matchIpSrc(std::string_view cidr);  // "10.0.0.0/8" or "10.0.0.1"
  FlowBuilder& matchIpDst(std::string_view cidr);
  FlowBuilder& matchIpProto(std::uint8_t proto);  // with Protocol::kIp
  FlowBuilder& matchTcpSrc(std::uint16_t port);   // these four need the matching Protocol
  FlowBuilder& matchTcpDst(std::uint16_t port);
  FlowBuilder& matchUdpSrc(std::uint16_t port);
  FlowBuilder& matchUdpDst(std::uint16_t port);
  FlowBuilder& matchSctpDst(std::uint16_t port);
  // An allocated register or ct_mark field; several fields of one register combine into one match.
  FlowBuilder& matchField(const Field& field, std::uint64_t value);
  FlowBuilder& matchMark(const Mark& mark) { return matchField(mark.field, mark.value); }
  FlowBuilder& matchCtState(const CtState& state);
  FlowBuilder& matchCtZone(std::uint16_t zone);
  FlowBuilder& matchTunnelId(std::uint64_t id);
  FlowBuilder& matchTunnelSrc(std::string_view ip);
  FlowBuilder& matchTunnelDst(std::string_view ip);
  FlowBuilder& matchPktMark(std::uint32_t value, std::uint32_t mask = 0xffffffff);

  // The match as it renders now, valid or not (for messages and tests).
  std::string renderMatch() const;
  [[nodiscard]] Result<Flow> build() const;

 private:
  struct Masked {
    std::uint64_t value = 0;
    std::uint64_t mask = 0;
    bool operator==(const Masked&) const = default;
  };
  enum class L4 : std::uint8_t { kTcp, kUdp, kSctp };
  struct PortMatch {
    L4 protocol;
    std::uint16_t port;
    bool operator==(const PortMatch&) const = default;
  };

  template <typename T>
  void setOnce(std::optional<T>& slot, T value, std::string_view name);
  void setPort(std::optional<PortMatch>& slot, PortMatch value, std::string_view name);
  void fail(std::string message) { errors_.push_back(std::move(message)); }
  std::vector<std::string> validate() const;
  std::string describe() const;

  TableRef table_;
  std::optional<std::uint16_t> priority_;
  Cookie cookie_;

  std::optional<Protocol> protocol_;
  std::optional<std::uint32_t> inPort_;
  std::optional<MacMatch> ethSrc_;
  std::optional<MacMatch> ethDst_;
  std::optional<std::uint16_t> ethType_;
  std::optional<std::uint16_t> arpOp_;
  std::optional<Cidr> arpSpa_;
  std::optional<Cidr> arpTpa_;
  std::optional<MacAddress> arpSha_;
  std::optional<MacAddress> arpTha_;
  std::optional<Cidr> ipSrc_;
  std::optional<Cidr> ipDst_;
  std::optional<std::uint8_t> ipProto_;
  std::optional<PortMatch> tpSrc_;
  std::optional<PortMatch> tpDst_;
  std::array<Masked, 16> registers_{};
  Masked ctMark_;
  std::optional<CtState> ctState_;
  std::optional<std::uint16_t> ctZone_;
  std::optional<std::uint64_t> tunnelId_;
  std::optional<Ipv4> tunnelSrc_;
  std::optional<Ipv4> tunnelDst_;
  std::optional<Masked> pktMark_;

  std::vector<std::string> errors_;
};

// All flows, or one error listing every failed build; for features that build many flows at once.
[[nodiscard]] Result<std::vector<Flow>> collectFlows(std::vector<Result<Flow>> results);

// One flow as an ovs-ofctl add-flow line: "table=3,priority=200,cookie=0x...,MATCH
// actions=ACTIONS".
std::string renderFlow(const Flow& flow);

}  // namespace sluice::ofrules
