// The one place that allocates register and ct_mark bits, plus the packet header fields flows use.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace sluice::ofrules {

// Where an allocated field lives. Registers are per packet and die with it; ct_mark is stored on
// the connection and seen again by every later packet of it (replies included).
enum class FieldSpace : std::uint8_t { kRegister, kCtMark };

inline constexpr std::array<std::string_view, 16> kRegisterNxmNames = {
    "NXM_NX_REG0",  "NXM_NX_REG1",  "NXM_NX_REG2",  "NXM_NX_REG3", "NXM_NX_REG4",  "NXM_NX_REG5",
    "NXM_NX_REG6",  "NXM_NX_REG7",  "NXM_NX_REG8",  "NXM_NX_REG9", "NXM_NX_REG10", "NXM_NX_REG11",
    "NXM_NX_REG12", "NXM_NX_REG13", "NXM_NX_REG14", "NXM_NX_REG15"};
inline constexpr std::array<std::string_view, 16> kRegisterMatchNames = {
    "reg0", "reg1", "reg2",  "reg3",  "reg4",  "reg5",  "reg6",  "reg7",
    "reg8", "reg9", "reg10", "reg11", "reg12", "reg13", "reg14", "reg15"};

// A named bit range [low..high] (inclusive) of one 32-bit register or of ct_mark.
struct Field {
  std::string_view name;
  FieldSpace space = FieldSpace::kRegister;
  std::uint8_t reg = 0;  // 0..15; unused for ct_mark
  std::uint8_t low = 0;
  std::uint8_t high = 0;
  std::string_view meaning;

  constexpr unsigned width() const { return static_cast<unsigned>(high) - low + 1; }
  constexpr std::uint64_t maxValue() const { return (std::uint64_t{1} << width()) - 1; }
  // The field's bits in place within the 32-bit register or ct_mark.
  constexpr std::uint32_t mask() const { return static_cast<std::uint32_t>(maxValue() << low); }
  constexpr bool fullWidth() const { return low == 0 && high == 31; }
  constexpr bool wellFormed() const {
    return low <= high && high < 32 && (space == FieldSpace::kCtMark || reg < 16) && !name.empty();
  }
  constexpr bool sameContainer(const Field& other) const {
    return space == other.space && (space == FieldSpace::kCtMark || reg == other.reg);
  }
  constexpr bool overlaps(const Field& other) const {
    return sameContainer(other) && (mask() & other.mask()) != 0;
  }
  constexpr std::string_view nxmName() const {
    return space == FieldSpace::kCtMark ? std::string_view("NXM_NX_CT_MARK")
                                        : kRegisterNxmNames[reg];
  }
  // The name in a match ("reg3", "ct_mark").
  constexpr std::string_view matchName() const {
    return space == FieldSpace::kCtMark ? std::string_view("ct_mark") : kRegisterMatchNames[reg];
  }
  // "PacketSource (reg0[0..3])", for error messages and docs.
  std::string describe() const;
};

constexpr Field registerField(std::string_view name, std::uint8_t reg, std::uint8_t low,
                              std::uint8_t high, std::string_view meaning) {
  return Field{name, FieldSpace::kRegister, reg, low, high, meaning};
}
constexpr Field ctMarkField(std::string_view name, std::uint8_t low, std::uint8_t high,
                            std::string_view meaning) {
  return Field{name, FieldSpace::kCtMark, 0, low, high, meaning};
}

// A named value of a field, e.g. "the packet came from a tunnel".
struct Mark {
  Field field;
  std::uint32_t value = 0;
  std::string_view name;
  constexpr bool fits() const { return value <= field.maxValue(); }
};

// ---------------------------------------------------------------------------------------------
// Register allocation. Every bit a flow reads or writes is declared here and nowhere else.
// ---------------------------------------------------------------------------------------------

// reg0[0..3]: where the packet entered the bridge, set by Classifier (kFromPod ... kFromUplink).
inline constexpr Field kPacketSource = registerField(
    "PacketSource", 0, 0, 3, "where the packet entered: 1 pod, 2 tunnel, 3 gateway, 4 uplink");
// reg0[8]: L3Forwarding (or EgressMark) found the output port and stored it in TargetOfPort.
inline constexpr Field kTargetOfPortFound =
    registerField("TargetOfPortFound", 0, 8, 8, "1 when TargetOfPort holds a valid output port");
// reg0[9]: EgressMark chose to SNAT this packet on this node (the local node is its egress node).
inline constexpr Field kEgressSnatHere =
    registerField("EgressSnatHere", 0, 9, 9, "1 when this node SNATs the packet for an Egress");
// reg0[10]: a pod reached itself through a Service (after DNAT its source is its destination):
// SNAT rewrites the source to kHairpinVirtualIp so the pod's kernel accepts the packet.
inline constexpr Field kHairpinField =
    registerField("Hairpin", 0, 10, 10, "1 when a pod reaches itself through its Service");
// reg1: the OpenFlow port Output sends the packet to (output:NXM_NX_REG1[]).
inline constexpr Field kTargetOfPort =
    registerField("TargetOfPort", 1, 0, 31, "the ofport the packet is sent to by Output");
// reg2: the Egress chosen for the packet, 0 = none. 32 bits, so there is no 255-IP cap as with
// Antrea's 8-bit pkt_mark IDs.
inline constexpr Field kEgressId = registerField(
    "EgressId", 2, 0, 31, "the ID of the Egress (egress IP) the packet leaves with; 0 = none");

// reg3: the endpoint a Service connection goes to, chosen by a ServiceLB group bucket or by a
// learned session-affinity flow; EndpointDNAT matches it.
inline constexpr Field kEndpointIp =
    registerField("EndpointIp", 3, 0, 31, "the IPv4 address of the Service endpoint chosen");
// reg4[0..15]: that endpoint's port (the Service's target port).
inline constexpr Field kEndpointPort =
    registerField("EndpointPort", 4, 0, 15, "the port of the Service endpoint chosen");
// reg4[16]: a bucket chose the endpoint of a ClientIP-affinity frontend; ServiceLB's learn flow
// for the frontend records the choice in SessionAffinity, then goes on to EndpointDNAT.
inline constexpr Field kAffinityLearnField = registerField(
    "AffinityLearn", 4, 16, 16, "1 when the endpoint chosen must be learned for session affinity");
// reg4[17]: a learned SessionAffinity flow loaded the endpoint the client had.
inline constexpr Field kAffinityHitField = registerField(
    "AffinityHit", 4, 17, 17, "1 when session affinity loaded the endpoint (reg3, reg4[0..15])");

// ct_mark[1]: OVS SNATed the connection on this node (to an Egress IP, or to the node IP for pods
// without an Egress). Its replies are un-NATed in kSnatCtZone; br-phy uses the bit to send them to
// br-int instead of the node's kernel.
inline constexpr Field kCtEgressSnat = ctMarkField(
    "CtEgressSnat", 1, 1, "1 when OVS SNATed the connection on this node (Egress or node IP)");

// ct_mark[2]: OVS DNATed the connection to a Service endpoint (EndpointDNAT committed it in the
// default zone); ConntrackCommit leaves it as committed.
inline constexpr Field kCtService =
    ctMarkField("CtService", 2, 2, "1 when OVS DNATed the connection to a Service endpoint");
// ct_mark[3]: the connection's first packet came from the gateway (kube-proxy mode only): its
// replies go back to the node's kernel, which may have DNATed it (a Service) and must undo that.
inline constexpr Field kCtFromGateway = ctMarkField(
    "CtFromGateway", 3, 3, "1 when the connection's first packet came from the gateway");

// Every allocated field; checked for overlaps below.
inline constexpr std::array kAllocatedFields = {
    kPacketSource, kTargetOfPortFound, kEgressSnatHere, kHairpinField,       kTargetOfPort,
    kEgressId,     kEndpointIp,        kEndpointPort,   kAffinityLearnField, kAffinityHitField,
    kCtEgressSnat, kCtService,         kCtFromGateway};

// Values of PacketSource, and of the one-bit fields.
inline constexpr Mark kFromPod{kPacketSource, 1, "FromPod"};
inline constexpr Mark kFromTunnel{kPacketSource, 2, "FromTunnel"};
inline constexpr Mark kFromGateway{kPacketSource, 3, "FromGateway"};
inline constexpr Mark kFromUplink{kPacketSource, 4, "FromUplink"};
inline constexpr Mark kOfPortFound{kTargetOfPortFound, 1, "OfPortFound"};
inline constexpr Mark kSnatHere{kEgressSnatHere, 1, "SnatHere"};
inline constexpr Mark kCtEgressSnatMark{kCtEgressSnat, 1, "CtEgressSnat"};
inline constexpr Mark kHairpin{kHairpinField, 1, "Hairpin"};
inline constexpr Mark kAffinityLearn{kAffinityLearnField, 1, "AffinityLearn"};
inline constexpr Mark kAffinityHit{kAffinityHitField, 1, "AffinityHit"};
inline constexpr Mark kCtServiceMark{kCtService, 1, "CtService"};
inline constexpr Mark kCtFromGatewayMark{kCtFromGateway, 1, "CtFromGateway"};

// Conntrack zones. The default zone tracks pod traffic; egress SNAT uses its own zone so that its
// NAT bindings never collide with the pod-to-pod connections of the default zone.
inline constexpr std::uint16_t kDefaultCtZone = 0xfff0;
inline constexpr std::uint16_t kSnatCtZone = 0xfff1;

// True when no two fields share a bit and every field is well formed.
constexpr bool fieldsAreDisjoint(std::span<const Field> fields) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!fields[i].wellFormed()) return false;
    for (std::size_t j = i + 1; j < fields.size(); ++j) {
      if (fields[i].overlaps(fields[j])) return false;
    }
  }
  return true;
}

static_assert(fieldsAreDisjoint(kAllocatedFields),
              "ofrules/fields.h: two allocated fields share bits (or one is malformed); move one");
static_assert(kFromPod.fits() && kFromTunnel.fits() && kFromGateway.fits() && kFromUplink.fits() &&
              kOfPortFound.fits() && kSnatHere.fits() && kCtEgressSnatMark.fits() &&
              kHairpin.fits() && kAffinityLearn.fits() && kAffinityHit.fits() &&
              kCtServiceMark.fits() && kCtFromGatewayMark.fits());

// The same check at run time, naming the offending fields; for allocations built by tests or tools.
Result<void> checkFieldAllocation(std::span<const Field> fields);

// ---------------------------------------------------------------------------------------------
// Packet header fields, for set_field and move.
// ---------------------------------------------------------------------------------------------

enum class ValueKind : std::uint8_t { kInteger, kMac, kIpv4 };

// What the flow must match before OVS lets an action touch a field (ovs-ofctl rejects the flow
// otherwise, e.g. set_field:...->arp_op without "arp").
enum class Prerequisite : std::uint8_t { kNone, kIp, kArp };

struct HeaderField {
  std::string_view oxmName;  // for set_field: "eth_src"
  std::string_view nxmName;  // for move/load: "NXM_OF_ETH_SRC"
  std::uint8_t width = 0;
  ValueKind kind = ValueKind::kInteger;
  Prerequisite prerequisite = Prerequisite::kNone;
};

inline constexpr HeaderField kEthSrc{"eth_src", "NXM_OF_ETH_SRC", 48, ValueKind::kMac};
inline constexpr HeaderField kEthDst{"eth_dst", "NXM_OF_ETH_DST", 48, ValueKind::kMac};
inline constexpr HeaderField kEthType{"eth_type", "NXM_OF_ETH_TYPE", 16, ValueKind::kInteger};
inline constexpr HeaderField kArpOp{"arp_op", "NXM_OF_ARP_OP", 16, ValueKind::kInteger,
                                    Prerequisite::kArp};
inline constexpr HeaderField kArpSpa{"arp_spa", "NXM_OF_ARP_SPA", 32, ValueKind::kIpv4,
                                     Prerequisite::kArp};
inline constexpr HeaderField kArpTpa{"arp_tpa", "NXM_OF_ARP_TPA", 32, ValueKind::kIpv4,
                                     Prerequisite::kArp};
inline constexpr HeaderField kArpSha{"arp_sha", "NXM_NX_ARP_SHA", 48, ValueKind::kMac,
                                     Prerequisite::kArp};
inline constexpr HeaderField kArpTha{"arp_tha", "NXM_NX_ARP_THA", 48, ValueKind::kMac,
                                     Prerequisite::kArp};
inline constexpr HeaderField kIpSrc{"ip_src", "NXM_OF_IP_SRC", 32, ValueKind::kIpv4,
                                    Prerequisite::kIp};
inline constexpr HeaderField kIpDst{"ip_dst", "NXM_OF_IP_DST", 32, ValueKind::kIpv4,
                                    Prerequisite::kIp};
inline constexpr HeaderField kInPort{"in_port", "NXM_OF_IN_PORT", 16, ValueKind::kInteger};
inline constexpr HeaderField kTunnelId{"tun_id", "NXM_NX_TUN_ID", 64, ValueKind::kInteger};
inline constexpr HeaderField kTunnelSrc{"tun_src", "NXM_NX_TUN_IPV4_SRC", 32, ValueKind::kIpv4};
inline constexpr HeaderField kTunnelDst{"tun_dst", "NXM_NX_TUN_IPV4_DST", 32, ValueKind::kIpv4};
inline constexpr HeaderField kIpProto{"nw_proto", "NXM_OF_IP_PROTO", 8, ValueKind::kInteger,
                                      Prerequisite::kIp};
inline constexpr HeaderField kTcpDst{"tcp_dst", "NXM_OF_TCP_DST", 16, ValueKind::kInteger,
                                     Prerequisite::kIp};
inline constexpr HeaderField kUdpDst{"udp_dst", "NXM_OF_UDP_DST", 16, ValueKind::kInteger,
                                     Prerequisite::kIp};
inline constexpr HeaderField kSctpDst{"sctp_dst", "OXM_OF_SCTP_DST", 16, ValueKind::kInteger,
                                      Prerequisite::kIp};
inline constexpr HeaderField kPktMark{"pkt_mark", "NXM_NX_PKT_MARK", 32, ValueKind::kInteger};

// A bit range of a header field or of an allocated field: the operands of move.
struct Subfield {
  std::string_view nxmName;
  std::uint8_t low = 0;
  std::uint8_t high = 0;
  std::uint8_t containerWidth = 0;
  Prerequisite prerequisite = Prerequisite::kNone;

  constexpr Subfield(const Field& field)  // NOLINT(google-explicit-constructor)
      : nxmName(field.nxmName()), low(field.low), high(field.high), containerWidth(32) {}
  constexpr Subfield(const HeaderField& field)  // NOLINT(google-explicit-constructor)
      : nxmName(field.nxmName),
        low(0),
        high(static_cast<std::uint8_t>(field.width - 1)),
        containerWidth(field.width),
        prerequisite(field.prerequisite) {}
  // Part of a header field, e.g. Subfield(kTunnelId, 0, 31).
  constexpr Subfield(const HeaderField& field, std::uint8_t lowBit, std::uint8_t highBit)
      : nxmName(field.nxmName),
        low(lowBit),
        high(highBit),
        containerWidth(field.width),
        prerequisite(field.prerequisite) {}
  // Part of a register outside the allocation; for tests and one-off moves.
  constexpr Subfield(std::string_view name, std::uint8_t lowBit, std::uint8_t highBit,
                     std::uint8_t width)
      : nxmName(name), low(lowBit), high(highBit), containerWidth(width) {}

  constexpr unsigned width() const { return static_cast<unsigned>(high) - low + 1; }
  // "NXM_NX_REG1[]" (whole), "NXM_NX_REG0[9]" (one bit), "NXM_NX_REG0[0..3]".
  std::string render() const;
};

}  // namespace sluice::ofrules
