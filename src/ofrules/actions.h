// OpenFlow actions as a validated list, for FlowBuilder.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ofrules/fields.h"
#include "ofrules/pipeline.h"

namespace sluice::ofrules {

// ct(...) options. Built fluently, validated when added to an action list:
//   CtAction().commit().zone(kSnatCtZone).natSrc("192.0.2.10").loadMark(kCtEgressSnatMark).table(Table::kConntrackCommit)
class CtAction {
 public:
  CtAction& commit();
  CtAction& zone(std::uint16_t zone);
  CtAction& zoneFrom(const Field& field);  // zone=NXM_NX_REGn[..]; the field must be 16 bits wide
  CtAction& nat();                         // apply the connection's existing NAT (replies, un-NAT)
  CtAction& natSrc(std::string_view address);  // "192.0.2.10" or a range "192.0.2.10-192.0.2.20"
  CtAction& natDst(std::string_view address);
  CtAction& natDst(std::string_view address, std::uint16_t port);  // nat(dst=ADDRESS:PORT)
  CtAction& table(Table table);  // recirculate into `table` after conntrack
  CtAction& load(const Field& ctMarkField,
                 std::uint64_t value);  // exec(load:...->NXM_NX_CT_MARK[..])
  CtAction& loadMark(const Mark& mark) { return load(mark.field, mark.value); }

 private:
  friend class ActionList;
  enum class NatKind : std::uint8_t { kNone, kPlain, kSrc, kDst };
  struct MarkLoad {
    Field field;
    std::uint64_t value;
  };
  bool commit_ = false;
  std::optional<std::uint16_t> zone_;
  std::optional<Field> zoneField_;
  NatKind nat_ = NatKind::kNone;
  std::string natAddress_;
  std::uint16_t natPort_ = 0;
  std::optional<Table> table_;
  std::vector<MarkLoad> loads_;
};

// learn(...): when a packet passes, adds a flow built from constants to a table of the same
// bridge. The learned flow has no actions (a drop): a datapath that must stop doing something by
// itself, with no agent to tell it, learns a drop above the flow that does it.
//   LearnAction().table(Table::kPhysicalClassifier).priority(245).cookie(cookie).deleteLearned()
//       .matchEthType(0x806).match(kInPort, 1).match(kArpOp, 1).match(kArpTpa, "10.10.0.8")
class LearnAction {
 public:
  LearnAction& table(Table table);
  LearnAction& priority(std::uint16_t priority);
  // Learned flows carry this cookie. Give each learning flow its own: delete_learned removes every
  // flow of the table with the cookie.
  LearnAction& cookie(std::uint64_t cookie);
  // The learned flows go when the last flow that learns them (with this table and cookie) does.
  LearnAction& deleteLearned();
  LearnAction& matchEthType(std::uint16_t ethType);  // needed before IPv4 or ARP fields
  LearnAction& match(const HeaderField& field, std::uint64_t value);
  LearnAction& match(const HeaderField& field, std::string_view value);
  // The learned flow matches this field's value in the packet that learns: "NXM_OF_IP_SRC[]".
  LearnAction& matchSame(const HeaderField& field);
  // Learned flows expire this long after they were learned (0: never); learning again resets it.
  LearnAction& hardTimeout(std::uint32_t seconds);
  // The learned flow's actions: copy a field of the learning packet into the packet that matches
  // the learned flow ("load:NXM_NX_REG3[]->NXM_NX_REG3[]"), or load a constant into a register
  // field. Without any, the learned flow drops.
  LearnAction& loadSame(const Field& field);
  LearnAction& loadConstant(const Field& field, std::uint64_t value);
  LearnAction& loadMark(const Mark& mark) { return loadConstant(mark.field, mark.value); }

 private:
  friend class ActionList;
  struct Constant {
    const HeaderField* field;
    std::uint64_t number = 0;
    std::string text;  // for MAC and IPv4 fields
  };
  std::optional<Table> table_;
  std::optional<std::uint16_t> priority_;
  std::uint64_t cookie_ = 0;
  bool deleteLearned_ = false;
  std::optional<std::uint16_t> ethType_;
  std::uint32_t hardTimeout_ = 0;
  std::vector<Constant> matches_;
  std::vector<const HeaderField*> copies_;
  struct Load {
    Field field;
    std::optional<std::uint64_t> constant;  // empty: copy the learning packet's value
  };
  std::vector<Load> loads_;
};

enum class ControllerReason : std::uint8_t { kAction, kNoMatch, kInvalidTtl };

struct ControllerOptions {
  std::optional<std::uint16_t> maxLen;
  ControllerReason reason = ControllerReason::kAction;
  std::vector<std::uint8_t> userdata;  // rendered as 01.02.03
  bool pause = false;                  // pause the pipeline until the controller resumes it
};

// Where the actions run: the pipeline resolves table names, and `fromTable` lets
// goto/resubmit/ct(table) refuse to go backward, which could loop.
struct ActionContext {
  const Pipeline* pipeline = nullptr;
  std::optional<Table> fromTable;
};

// The validated, ordered actions of a flow. Errors are collected, not thrown; the builder reports
// them.
class ActionList {
 public:
  explicit ActionList(ActionContext context) : context_(context) {}

  void output(std::uint32_t port);
  void outputField(const Field& field);
  void outputInPort();
  void outputLocal();
  void normal();
  void drop();
  void controller(const ControllerOptions& options);
  void gotoTable(Table table);
  void gotoNextTable();
  void resubmit(Table table);
  // Resubmit into the table the flow (or group bucket) runs in, to match again after changing
  // the fields its flows match. The caller must make sure no flow matches forever.
  void resubmitSameTable();
  void load(const Field& field, std::uint64_t value);
  void setField(const HeaderField& field, std::uint64_t value);
  void setField(const HeaderField& field, std::string_view value);
  void move(const Subfield& source, const Subfield& destination);
  void ct(const CtAction& ct);
  void decTtl();
  void learn(const LearnAction& learn);
  void group(std::uint32_t groupId);
  void modDlSrc(std::string_view mac);
  void modDlDst(std::string_view mac);
  void arpReply(std::string_view mac, std::string_view ip);

  // "drop" when there are no actions, as ovs-ofctl needs a non-empty action list.
  std::string render() const;
  const std::vector<std::string>& errors() const { return errors_; }
  // The first action that needs the flow to match IPv4 (ct, dec_ttl, ip_src/ip_dst writes) or
  // ARP (ARP field writes), so the flow builder can check its match.
  const std::optional<std::string>& firstIpAction() const { return firstIpAction_; }
  const std::optional<std::string>& firstArpAction() const { return firstArpAction_; }
  bool commits() const { return commits_; }

 private:
  void require(Prerequisite prerequisite, const std::string& action);
  void append(std::string action);
  void fail(std::string message) { errors_.push_back(std::move(message)); }
  // The ID of `target`, or nullopt (with an error recorded) if it is missing or not forward.
  std::optional<std::uint8_t> forwardTable(Table target, std::string_view action);
  std::optional<std::string> renderCt(const CtAction& ct);
  std::optional<std::string> renderLearn(const LearnAction& learn);

  ActionContext context_;
  std::vector<std::string> actions_;
  std::vector<std::string> errors_;
  bool terminated_ = false;  // a goto_table or drop was added; nothing may follow
  bool commits_ = false;     // some ct action commits
  std::optional<std::string> firstIpAction_;
  std::optional<std::string> firstArpAction_;
};

// The fluent action methods of FlowBuilder (CRTP, so chains keep the
// caller's type: FlowBuilder(...).output(3).build()).
template <typename Self>
class ActionBuilder {
 public:
  Self& output(std::uint32_t port) {
    return apply([&](ActionList& a) { a.output(port); });
  }
  Self& outputField(const Field& field) {
    return apply([&](ActionList& a) { a.outputField(field); });
  }
  Self& outputInPort() {
    return apply([&](ActionList& a) { a.outputInPort(); });
  }
  // The bridge's own port (LOCAL).
  Self& outputLocal() {
    return apply([&](ActionList& a) { a.outputLocal(); });
  }
  Self& normal() {
    return apply([&](ActionList& a) { a.normal(); });
  }
  Self& drop() {
    return apply([&](ActionList& a) { a.drop(); });
  }
  Self& controller(const ControllerOptions& options = {}) {
    return apply([&](ActionList& a) { a.controller(options); });
  }
  Self& gotoTable(Table table) {
    return apply([&](ActionList& a) { a.gotoTable(table); });
  }
  Self& gotoNextTable() {
    return apply([&](ActionList& a) { a.gotoNextTable(); });
  }
  Self& resubmit(Table table) {
    return apply([&](ActionList& a) { a.resubmit(table); });
  }
  Self& resubmitSameTable() {
    return apply([&](ActionList& a) { a.resubmitSameTable(); });
  }
  Self& load(const Field& field, std::uint64_t value) {
    return apply([&](ActionList& a) { a.load(field, value); });
  }
  Self& loadMark(const Mark& mark) { return load(mark.field, mark.value); }
  Self& setField(const HeaderField& field, std::uint64_t value) {
    return apply([&](ActionList& a) { a.setField(field, value); });
  }
  Self& setField(const HeaderField& field, std::string_view value) {
    return apply([&](ActionList& a) { a.setField(field, value); });
  }
  Self& setTunnelDst(std::string_view ip) { return setField(kTunnelDst, ip); }
  Self& setTunnelId(std::uint64_t id) { return setField(kTunnelId, id); }
  Self& move(const Subfield& source, const Subfield& destination) {
    return apply([&](ActionList& a) { a.move(source, destination); });
  }
  Self& ct(const CtAction& ct) {
    return apply([&](ActionList& a) { a.ct(ct); });
  }
  Self& decTtl() {
    return apply([&](ActionList& a) { a.decTtl(); });
  }
  Self& learn(const LearnAction& learn) {
    return apply([&](ActionList& a) { a.learn(learn); });
  }
  Self& group(std::uint32_t groupId) {
    return apply([&](ActionList& a) { a.group(groupId); });
  }
  Self& modDlSrc(std::string_view mac) {
    return apply([&](ActionList& a) { a.modDlSrc(mac); });
  }
  Self& modDlDst(std::string_view mac) {
    return apply([&](ActionList& a) { a.modDlDst(mac); });
  }
  // The whole ARP responder: turn the request into a reply from (mac, ip), send it back in_port.
  Self& arpReply(std::string_view mac, std::string_view ip) {
    return apply([&](ActionList& a) { a.arpReply(mac, ip); });
  }

  const ActionList& actionList() const { return actions_; }

 protected:
  explicit ActionBuilder(ActionContext context) : actions_(context) {}

 private:
  template <typename Function>
  Self& apply(Function function) {
    function(actions_);
    return static_cast<Self&>(*this);
  }

  ActionList actions_;
};

}  // namespace sluice::ofrules
