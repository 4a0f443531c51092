// FlowBuilder: match bookkeeping, validation and canonical rendering.
#include "ofrules/flow_builder.h"

namespace sluice::ofrules {
namespace {

constexpr std::array<std::string_view, 8> kCtFlagNames = {"new", "est", "rel",  "rpl",
                                                          "inv", "trk", "snat", "dnat"};
constexpr std::uint64_t kFullRegisterMask = 0xffffffff;
// OFPP_LOCAL in OpenFlow 1.1+: the bridge's own port, matched as in_port=LOCAL.
constexpr std::uint32_t kLocalPort = 0xfffffffe;

bool isIpProtocol(Protocol protocol) { return protocol != Protocol::kArp; }

std::string maskedHex(std::uint64_t value, std::uint64_t mask, std::uint64_t fullMask) {
  if (mask == fullMask) return renderHex(value);
  return renderHex(value) + "/" + renderHex(mask);
}

void appendField(std::string& match, std::string_view name, const std::string& value) {
  if (!match.empty()) match += ",";
  match += name;
  match += "=";
  match += value;
}

}  // namespace

std::string_view protocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kIp: return "ip";
    case Protocol::kArp: return "arp";
    case Protocol::kTcp: return "tcp";
    case Protocol::kUdp: return "udp";
    case Protocol::kIcmp: return "icmp";
    case Protocol::kSctp: return "sctp";
  }
  return "?";
}

CtState& CtState::with(CtFlag flag) {
  with_ = static_cast<std::uint8_t>(with_ | (1u << static_cast<unsigned>(flag)));
  return *this;
}

CtState& CtState::without(CtFlag flag) {
  without_ = static_cast<std::uint8_t>(without_ | (1u << static_cast<unsigned>(flag)));
  return *this;
}

std::string CtState::render() const {
  std::string text;
  for (unsigned bit = 0; bit < kCtFlagNames.size(); ++bit) {
    if ((with_ >> bit) & 1u) text += "+" + std::string(kCtFlagNames[bit]);
    if ((without_ >> bit) & 1u) text += "-" + std::string(kCtFlagNames[bit]);
  }
  return text;
}

std::optional<CtFlag> CtState::contradiction() const {
  for (unsigned bit = 0; bit < kCtFlagNames.size(); ++bit) {
    if (((with_ & without_) >> bit) & 1u) return static_cast<CtFlag>(bit);
  }
  return std::nullopt;
}

FlowBuilder::FlowBuilder(TableRef table)
    : ActionBuilder(ActionContext{table.pipeline, table.table}), table_(table) {}

FlowBuilder& FlowBuilder::priority(std::uint16_t priority) {
  priority_ = priority;
  return *this;
}

FlowBuilder& FlowBuilder::cookie(Cookie cookie) {
  cookie_ = cookie;
  return *this;
}

template <typename T>
void FlowBuilder::setOnce(std::optional<T>& slot, T value, std::string_view name) {
  if (slot && !(*slot == value)) {
    fail(std::string(name) + " is matched twice with different values; keep one");
    return;
  }
  slot = std::move(value);
}

void FlowBuilder::setPort(std::optional<PortMatch>& slot, PortMatch value, std::string_view name) {
  setOnce(slot, value, name);
}

FlowBuilder& FlowBuilder::matchProtocol(Protocol protocol) {
  setOnce(protocol_, protocol, "the protocol");
  return *this;
}

FlowBuilder& FlowBuilder::matchInPort(std::uint32_t port) {
  if (port == 0) {
    fail("in_port=0: OpenFlow has no port 0; use the port's ofport from OVSDB");
    return *this;
  }
  setOnce(inPort_, port, "in_port");
  return *this;
}

FlowBuilder& FlowBuilder::matchInPortLocal() {
  setOnce(inPort_, kLocalPort, "in_port");
  return *this;
}

FlowBuilder& FlowBuilder::matchEthSrc(std::string_view mac) {
  auto parsed = MacMatch::parse(mac);
  if (!parsed)
    fail("dl_src: " + parsed.error().message);
  else
    setOnce(ethSrc_, *parsed, "dl_src");
  return *this;
}

FlowBuilder& FlowBuilder::matchEthDst(std::string_view mac) {
  auto parsed = MacMatch::parse(mac);
  if (!parsed)
    fail("dl_dst: " + parsed.error().message);
  else
    setOnce(ethDst_, *parsed, "dl_dst");
  return *this;
}

FlowBuilder& FlowBuilder::matchEthType(std::uint16_t ethType) {
  setOnce(ethType_, ethType, "dl_type");
  return *this;
}

FlowBuilder& FlowBuilder::matchArpOp(std::uint16_t op) {
  setOnce(arpOp_, op, "arp_op");
  return *this;
}

FlowBuilder& FlowBuilder::matchArpSpa(std::string_view cidr) {
  auto parsed = parseMatchCidr(cidr);
  if (!parsed)
    fail("arp_spa: " + parsed.error().message);
  else
    setOnce(arpSpa_, *parsed, "arp_spa");
  return *this;
}

FlowBuilder& FlowBuilder::matchArpTpa(std::string_view cidr) {
  auto parsed = parseMatchCidr(cidr);
  if (!parsed)
    fail("arp_tpa: " + parsed.error().message);
  else
    setOnce(arpTpa_, *parsed, "arp_tpa");
  return *this;
}

FlowBuilder& FlowBuilder::matchArpSha(std::string_view mac) {
  auto parsed = parseMacOrError(mac);
  if (!parsed)
    fail("arp_sha: " + parsed.error().message);
  else
    setOnce(arpSha_, *parsed, "arp_sha");
  return *this;
}

FlowBuilder& FlowBuilder::matchArpTha(std::string_view mac) {
  auto parsed = parseMacOrError(mac);
  if (!parsed)
    fail("arp_tha: " + parsed.error().message);
  else
    setOnce(arpTha_, *parsed, "arp_tha");
  return *this;
}

FlowBuilder& FlowBuilder::matchIpSrc(std::string_view cidr) {
  auto parsed = parseMatchCidr(cidr);
  if (!parsed)
    fail("nw_src: " + parsed.error().message);
  else
    setOnce(ipSrc_, *parsed, "nw_src");
  return *this;
}

FlowBuilder& FlowBuilder::matchIpDst(std::string_view cidr) {
  auto parsed = parseMatchCidr(cidr);
  if (!parsed)
    fail("nw_dst: " + parsed.error().message);
  else
    setOnce(ipDst_, *parsed, "nw_dst");
  return *this;
}

FlowBuilder& FlowBuilder::matchIpProto(std::uint8_t proto) {
  setOnce(ipProto_, proto, "nw_proto");
  return *this;
}

FlowBuilder& FlowBuilder::matchTcpSrc(std::uint16_t port) {
  setPort(tpSrc_, PortMatch{L4::kTcp, port}, "tp_src");
  return *this;
}
FlowBuilder& FlowBuilder::matchTcpDst(std::uint16_t port) {
  setPort(tpDst_, PortMatch{L4::kTcp, port}, "tp_dst");
  return *this;
}
FlowBuilder& FlowBuilder::matchUdpSrc(std::uint16_t port) {
  setPort(tpSrc_, PortMatch{L4::kUdp, port}, "tp_src");
  return *this;
}
FlowBuilder& FlowBuilder::matchUdpDst(std::uint16_t port) {
  setPort(tpDst_, PortMatch{L4::kUdp, port}, "tp_dst");
  return *this;
}

FlowBuilder& FlowBuilder::matchSctpDst(std::uint16_t port) {
  setPort(tpDst_, PortMatch{L4::kSctp, port}, "tp_dst");
  return *this;
}

FlowBuilder& FlowBuilder::matchField(const Field& field, std::uint64_t value) {
  if (!field.wellFormed()) {
    fail("match on " + field.describe() +
         ": the field is malformed; fix its declaration in ofrules/fields.h");
    return *this;
  }
  if (value > field.maxValue()) {
    fail("match " + renderHex(value) + " on " + field.describe() +
         ": the value is wider than the field's " + std::to_string(field.width()) + " bits (max " +
         renderHex(field.maxValue()) + ")");
    return *this;
  }
  Masked& slot = field.space == FieldSpace::kCtMark ? ctMark_ : registers_[field.reg];
  std::uint64_t bits = value << field.low;
  std::uint64_t shared = slot.mask & field.mask();
  if ((slot.value & shared) != (bits & shared)) {
    fail("match on " + field.describe() +
         " conflicts with another match on the same bits; keep one");
    return *this;
  }
  slot.value |= bits;
  slot.mask |= field.mask();
  return *this;
}

FlowBuilder& FlowBuilder::matchCtState(const CtState& state) {
  setOnce(ctState_, state, "ct_state");
  return *this;
}

FlowBuilder& FlowBuilder::matchCtZone(std::uint16_t zone) {
  setOnce(ctZone_, zone, "ct_zone");
  return *this;
}

FlowBuilder& FlowBuilder::matchTunnelId(std::uint64_t id) {
  setOnce(tunnelId_, id, "tun_id");
  return *this;
}

FlowBuilder& FlowBuilder::matchTunnelSrc(std::string_view ip) {
  auto parsed = parseIpv4OrError(ip);
  if (!parsed)
    fail("tun_src: " + parsed.error().message);
  else
    setOnce(tunnelSrc_, *parsed, "tun_src");
  return *this;
}

FlowBuilder& FlowBuilder::matchTunnelDst(std::string_view ip) {
  auto parsed = parseIpv4OrError(ip);
  if (!parsed)
    fail("tun_dst: " + parsed.error().message);
  else
    setOnce(tunnelDst_, *parsed, "tun_dst");
  return *this;
}

FlowBuilder& FlowBuilder::matchPktMark(std::uint32_t value, std::uint32_t mask) {
  if ((value & ~mask) != 0) {
    fail("pkt_mark " + renderHex(value) + "/" + renderHex(mask) +
         " sets bits outside its mask; clear them");
    return *this;
  }
  setOnce(pktMark_, Masked{value, mask}, "pkt_mark");
  return *this;
}

std::string FlowBuilder::renderMatch() const {
  std::string match;
  if (protocol_) match = protocolName(*protocol_);
  if (inPort_)
    appendField(match, "in_port", *inPort_ == kLocalPort ? "LOCAL" : std::to_string(*inPort_));
  if (ethSrc_) appendField(match, "dl_src", ethSrc_->render());
  if (ethDst_) appendField(match, "dl_dst", ethDst_->render());
  if (ethType_) appendField(match, "dl_type", renderHex(*ethType_));
  for (std::size_t reg = 0; reg < registers_.size(); ++reg) {
    const Masked& slot = registers_[reg];
    if (slot.mask != 0) {
      appendField(match, kRegisterMatchNames[reg],
                  maskedHex(slot.value, slot.mask, kFullRegisterMask));
    }
  }
  if (ctState_) appendField(match, "ct_state", ctState_->render());
  if (ctMark_.mask != 0)
    appendField(match, "ct_mark", maskedHex(ctMark_.value, ctMark_.mask, kFullRegisterMask));
  if (ctZone_) appendField(match, "ct_zone", std::to_string(*ctZone_));
  if (tunnelId_) appendField(match, "tun_id", renderHex(*tunnelId_));
  if (tunnelSrc_) appendField(match, "tun_src", formatIpv4(*tunnelSrc_));
  if (tunnelDst_) appendField(match, "tun_dst", formatIpv4(*tunnelDst_));
  if (pktMark_)
    appendField(match, "pkt_mark", maskedHex(pktMark_->value, pktMark_->mask, kFullRegisterMask));
  if (arpOp_) appendField(match, "arp_op", std::to_string(*arpOp_));
  if (arpSpa_ && arpSpa_->prefix != 0) appendField(match, "arp_spa", renderMatchCidr(*arpSpa_));
  if (arpTpa_ && arpTpa_->prefix != 0) appendField(match, "arp_tpa", renderMatchCidr(*arpTpa_));
  if (arpSha_) appendField(match, "arp_sha", arpSha_->toString());
  if (arpTha_) appendField(match, "arp_tha", arpTha_->toString());
  if (ipSrc_ && ipSrc_->prefix != 0) appendField(match, "nw_src", renderMatchCidr(*ipSrc_));
  if (ipDst_ && ipDst_->prefix != 0) appendField(match, "nw_dst", renderMatchCidr(*ipDst_));
  if (ipProto_) appendField(match, "nw_proto", std::to_string(*ipProto_));
  if (tpSrc_) appendField(match, "tp_src", std::to_string(tpSrc_->port));
  if (tpDst_) appendField(match, "tp_dst", std::to_string(tpDst_->port));
  return match;
}

std::vector<std::string> FlowBuilder::validate() const {
  std::vector<std::string> problems = errors_;
  if (table_.pipeline == nullptr || !table_.pipeline->contains(table_.table)) {
    problems.push_back("table " + std::string(tableName(table_.table)) +
                       " is not in the pipeline; declare it in the feature's tables");
  }
  if (!priority_) problems.emplace_back("no priority; call priority()");

  auto needs = [&](bool present, std::string_view field, bool satisfied, std::string_view fix) {
    if (present && !satisfied) {
      std::string have = protocol_ ? "the flow matches " + std::string(protocolName(*protocol_))
                                   : "no protocol is set";
      problems.push_back(std::string(field) + " needs " + std::string(fix) + ", but " + have);
    }
  };
  bool isArp = protocol_ == Protocol::kArp;
  bool isIp = protocol_ && isIpProtocol(*protocol_);
  constexpr std::string_view kArpFix = "matchProtocol(Protocol::kArp)";
  constexpr std::string_view kIpFix =
      "an IPv4 protocol (matchProtocol(Protocol::kIp), kTcp, kUdp or kIcmp)";
  needs(arpOp_.has_value(), "arp_op", isArp, kArpFix);
  needs(arpSpa_.has_value(), "arp_spa", isArp, kArpFix);
  needs(arpTpa_.has_value(), "arp_tpa", isArp, kArpFix);
  needs(arpSha_.has_value(), "arp_sha", isArp, kArpFix);
  needs(arpTha_.has_value(), "arp_tha", isArp, kArpFix);
  needs(ipSrc_.has_value(), "nw_src", isIp, kIpFix);
  needs(ipDst_.has_value(), "nw_dst", isIp, kIpFix);
  needs(ipProto_.has_value(), "nw_proto", protocol_ == Protocol::kIp,
        "matchProtocol(Protocol::kIp) (tcp, udp and icmp already fix nw_proto)");
  for (const auto* port : {&tpSrc_, &tpDst_}) {
    if (!port->has_value()) continue;
    const L4 l4 = (*port)->protocol;
    const Protocol wanted = l4 == L4::kTcp   ? Protocol::kTcp
                            : l4 == L4::kUdp ? Protocol::kUdp
                                             : Protocol::kSctp;
    const std::string_view fix = l4 == L4::kTcp   ? "matchProtocol(Protocol::kTcp)"
                                 : l4 == L4::kUdp ? "matchProtocol(Protocol::kUdp)"
                                                  : "matchProtocol(Protocol::kSctp)";
    std::string name = std::string(protocolName(wanted)) + (port == &tpSrc_ ? "_src" : "_dst");
    needs(true, name, protocol_ == wanted, fix);
  }
  if (ethType_ && protocol_) {
    problems.push_back("dl_type=" + renderHex(*ethType_) + " and protocol " +
                       std::string(protocolName(*protocol_)) +
                       " both set the Ethernet type; keep one");
  }
  if (ctState_) {
    if (auto flag = ctState_->contradiction()) {
      problems.push_back("ct_state requires " +
                         std::string(kCtFlagNames[static_cast<unsigned>(*flag)]) +
                         " both set and clear; keep one");
    }
  }
  const ActionList& actions = actionList();
  if (actions.firstIpAction() && !isIp) {
    problems.push_back("action \"" + *actions.firstIpAction() + "\" needs " + std::string(kIpFix) +
                       ", but " +
                       (protocol_ ? "the flow matches " + std::string(protocolName(*protocol_))
                                  : "no protocol is set"));
  }
  if (actions.firstArpAction() && !isArp) {
    problems.push_back("action \"" + *actions.firstArpAction() + "\" needs " +
                       std::string(kArpFix) + ", but " +
                       (protocol_ ? "the flow matches " + std::string(protocolName(*protocol_))
                                  : "no protocol is set"));
  }
  if (actions.commits() && ctState_ && ctState_->demandsSet(CtFlag::kInv)) {
    problems.emplace_back(
        "ct commit on a flow that matches +inv: invalid connections cannot be committed; drop "
        "them");
  }
  for (const auto& error : actions.errors()) problems.push_back(error);
  return problems;
}

std::string FlowBuilder::describe() const {
  std::string text = "flow in table " + std::string(tableName(table_.table));
  if (table_.pipeline != nullptr) {
    if (auto id = table_.pipeline->id(table_.table)) text += " (id " + std::to_string(*id) + ")";
  }
  text += priority_ ? ", priority " + std::to_string(*priority_) : ", no priority";
  std::string match = renderMatch();
  text += ", match \"" + (match.empty() ? std::string("*") : match) + "\"";
  return text;
}

Result<Flow> FlowBuilder::build() const {
  auto problems = validate();
  if (!problems.empty()) {
    std::string message = describe() + ": ";
    for (std::size_t i = 0; i < problems.size(); ++i) message += (i > 0 ? "; " : "") + problems[i];
    return makeError(std::move(message));
  }
  return Flow{*table_.pipeline->id(table_.table), *priority_, renderMatch(), actionList().render(),
              cookie_.encode()};
}

Result<std::vector<Flow>> collectFlows(std::vector<Result<Flow>> results) {
  std::vector<Flow> flows;
  std::string errors;
  for (auto& result : results) {
    if (result.ok()) {
      flows.push_back(std::move(result).value());
    } else {
      errors += (errors.empty() ? "" : "\n") + result.error().message;
    }
  }
  if (!errors.empty()) return makeError(std::move(errors));
  return flows;
}

std::string renderFlow(const Flow& flow) {
  std::string line = "table=" + std::to_string(flow.table) +
                     ",priority=" + std::to_string(flow.priority) +
                     ",cookie=" + renderHex(flow.cookie);
  if (!flow.match.empty()) line += "," + flow.match;
  return line + " actions=" + (flow.actions.empty() ? std::string("drop") : flow.actions);
}

}  // namespace sluice::ofrules
