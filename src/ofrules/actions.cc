// Validation and ovs-ofctl rendering of OpenFlow actions.
#include "ofrules/actions.h"

#include "ofrules/values.h"

namespace sluice::ofrules {
namespace {

// OpenFlow reserves port numbers from 0xffffff00 up (IN_PORT, NORMAL, CONTROLLER, ...).
constexpr std::uint32_t kMaxPhysicalPort = 0xfffffeff;
constexpr std::uint32_t kMaxGroupId = 0xffffff00;

std::string hexByte(std::uint8_t byte) {
  constexpr char kDigits[] = "0123456789abcdef";
  return {kDigits[byte >> 4], kDigits[byte & 0xf]};
}

std::string tableLabel(const Pipeline* pipeline, Table table) {
  std::string label(tableName(table));
  if (pipeline != nullptr) {
    if (auto id = pipeline->id(table)) label += " (id " + std::to_string(*id) + ")";
  }
  return label;
}

// "192.0.2.10" or "192.0.2.10-192.0.2.20"; rendered canonically or an error.
Result<std::string> renderNatAddress(std::string_view text) {
  auto dash = text.find('-');
  auto first = parseIpv4OrError(text.substr(0, dash));
  if (!first) return makeError("ct nat address: " + first.error().message);
  if (dash == std::string_view::npos) return formatIpv4(*first);
  auto last = parseIpv4OrError(text.substr(dash + 1));
  if (!last) return makeError("ct nat range end: " + last.error().message);
  if (*last < *first) {
    return makeError("ct nat range \"" + std::string(text) +
                     "\" ends before it starts; swap the addresses");
  }
  return formatIpv4(*first) + "-" + formatIpv4(*last);
}

}  // namespace

CtAction& CtAction::commit() {
  commit_ = true;
  return *this;
}
CtAction& CtAction::zone(std::uint16_t zone) {
  zone_ = zone;
  return *this;
}
CtAction& CtAction::zoneFrom(const Field& field) {
  zoneField_ = field;
  return *this;
}
CtAction& CtAction::nat() {
  nat_ = NatKind::kPlain;
  natAddress_.clear();
  return *this;
}
CtAction& CtAction::natSrc(std::string_view address) {
  nat_ = NatKind::kSrc;
  natAddress_ = address;
  natPort_ = 0;
  return *this;
}
CtAction& CtAction::natDst(std::string_view address) {
  nat_ = NatKind::kDst;
  natAddress_ = address;
  natPort_ = 0;
  return *this;
}
CtAction& CtAction::natDst(std::string_view address, std::uint16_t port) {
  nat_ = NatKind::kDst;
  natAddress_ = address;
  natPort_ = port;
  return *this;
}
CtAction& CtAction::table(Table table) {
  table_ = table;
  return *this;
}
CtAction& CtAction::load(const Field& ctMarkField, std::uint64_t value) {
  loads_.push_back(MarkLoad{ctMarkField, value});
  return *this;
}

void ActionList::append(std::string action) {
  if (terminated_) {
    fail("action \"" + action + "\" follows \"" + actions_.back() +
         "\", which must be the last action; move it before that");
    return;
  }
  actions_.push_back(std::move(action));
}

void ActionList::require(Prerequisite prerequisite, const std::string& action) {
  if (prerequisite == Prerequisite::kIp && !firstIpAction_) firstIpAction_ = action;
  if (prerequisite == Prerequisite::kArp && !firstArpAction_) firstArpAction_ = action;
}

std::optional<std::uint8_t> ActionList::forwardTable(Table target, std::string_view action) {
  if (context_.pipeline == nullptr) {
    fail(std::string(action) + " " + std::string(tableName(target)) +
         ": no pipeline to resolve the table in");
    return std::nullopt;
  }
  auto targetId = context_.pipeline->id(target);
  if (!targetId) {
    fail(std::string(action) + " " + std::string(tableName(target)) +
         ": the table is not in this pipeline; declare it in the feature's tables");
    return std::nullopt;
  }
  if (context_.fromTable) {
    auto fromId = context_.pipeline->id(*context_.fromTable);
    if (fromId && *targetId <= *fromId) {
      fail(std::string(action) + " " + tableLabel(context_.pipeline, target) +
           " goes backward from " + tableLabel(context_.pipeline, *context_.fromTable) +
           "; a flow may only continue in a later table (declare the tables in packet order)");
      return std::nullopt;
    }
  }
  return targetId;
}

void ActionList::output(std::uint32_t port) {
  if (port == 0 || port > kMaxPhysicalPort) {
    fail("output:" + std::to_string(port) + " is not a port number (1.." +
         std::to_string(kMaxPhysicalPort) +
         "); use outputInPort(), outputLocal(), normal() or controller() for reserved ports");
    return;
  }
  append("output:" + std::to_string(port));
}

void ActionList::outputField(const Field& field) {
  if (field.space != FieldSpace::kRegister) {
    fail("output to " + field.describe() + ": only register fields can hold a port");
    return;
  }
  append("output:" + Subfield(field).render());
}

void ActionList::outputInPort() { append("IN_PORT"); }
void ActionList::outputLocal() { append("LOCAL"); }
void ActionList::normal() { append("NORMAL"); }

void ActionList::drop() {
  if (!actions_.empty()) {
    fail("drop after \"" + actions_.back() + "\": drop must be the only action; remove the others");
    return;
  }
  append("drop");
  terminated_ = true;
}

void ActionList::controller(const ControllerOptions& options) {
  std::vector<std::string> parts;
  if (options.maxLen) parts.push_back("max_len=" + std::to_string(*options.maxLen));
  switch (options.reason) {
    case ControllerReason::kAction: break;
    case ControllerReason::kNoMatch: parts.emplace_back("reason=no_match"); break;
    case ControllerReason::kInvalidTtl: parts.emplace_back("reason=invalid_ttl"); break;
  }
  if (!options.userdata.empty()) {
    std::string data = "userdata=";
    for (std::size_t i = 0; i < options.userdata.size(); ++i) {
      if (i > 0) data += ".";
      data += hexByte(options.userdata[i]);
    }
    parts.push_back(std::move(data));
  }
  if (options.pause) parts.emplace_back("pause");
  if (parts.empty()) {
    append("controller");
    return;
  }
  std::string action = "controller(";
  for (std::size_t i = 0; i < parts.size(); ++i) action += (i > 0 ? "," : "") + parts[i];
  append(action + ")");
}

void ActionList::gotoTable(Table table) {
  auto id = forwardTable(table, "goto_table");
  if (!id) return;
  append("goto_table:" + std::to_string(*id));
  terminated_ = true;
}

void ActionList::gotoNextTable() {
  if (!context_.fromTable || context_.pipeline == nullptr) {
    fail("goto next table: the current table is unknown here; name the table with gotoTable()");
    return;
  }
  auto next = context_.pipeline->next(*context_.fromTable);
  if (!next) {
    fail("goto next table: " + std::string(tableName(*context_.fromTable)) +
         " is the last table of the pipeline; output or drop instead");
    return;
  }
  gotoTable(*next);
}

void ActionList::resubmit(Table table) {
  auto id = forwardTable(table, "resubmit");
  if (!id) return;
  append("resubmit(," + std::to_string(*id) + ")");
}

void ActionList::resubmitSameTable() {
  if (!context_.fromTable || context_.pipeline == nullptr ||
      !context_.pipeline->id(*context_.fromTable)) {
    fail("resubmit to the same table: the current table is unknown here");
    return;
  }
  append("resubmit(," + std::to_string(*context_.pipeline->id(*context_.fromTable)) + ")");
}

void ActionList::load(const Field& field, std::uint64_t value) {
  if (field.space == FieldSpace::kCtMark) {
    fail("load to " + field.describe() +
         ": ct_mark can only be written inside ct(commit,exec(...)); use "
         "CtAction().commit().load()");
    return;
  }
  if (value > field.maxValue()) {
    fail("load " + renderHex(value) + " to " + field.describe() +
         ": the value is wider than the field's " + std::to_string(field.width()) + " bits (max " +
         renderHex(field.maxValue()) + ")");
    return;
  }
  append("load:" + renderHex(value) + "->" + Subfield(field).render());
}

void ActionList::setField(const HeaderField& field, std::uint64_t value) {
  if (field.kind != ValueKind::kInteger) {
    fail("set_field " + std::string(field.oxmName) +
         ": the field takes an address; pass it as a string");
    return;
  }
  if (field.width < 64 && value >= (std::uint64_t{1} << field.width)) {
    fail("set_field " + renderHex(value) + "->" + std::string(field.oxmName) +
         ": the value is wider than the field's " + std::to_string(field.width) + " bits");
    return;
  }
  std::string action = "set_field:" + renderHex(value) + "->" + std::string(field.oxmName);
  require(field.prerequisite, action);
  append(std::move(action));
}

void ActionList::setField(const HeaderField& field, std::string_view value) {
  std::string rendered;
  if (field.kind == ValueKind::kMac) {
    auto mac = parseMacOrError(value);
    if (!mac) {
      fail("set_field " + std::string(field.oxmName) + ": " + mac.error().message);
      return;
    }
    rendered = mac->toString();
  } else if (field.kind == ValueKind::kIpv4) {
    auto ip = parseIpv4OrError(value);
    if (!ip) {
      fail("set_field " + std::string(field.oxmName) + ": " + ip.error().message);
      return;
    }
    rendered = formatIpv4(*ip);
  } else {
    fail("set_field " + std::string(field.oxmName) + ": the field takes a number, not \"" +
         std::string(value) + "\"");
    return;
  }
  std::string action = "set_field:" + rendered + "->" + std::string(field.oxmName);
  require(field.prerequisite, action);
  append(std::move(action));
}

void ActionList::move(const Subfield& source, const Subfield& destination) {
  for (const Subfield* field : {&source, &destination}) {
    if (field->low > field->high || field->high >= field->containerWidth) {
      fail("move " + field->render() + ": the bit range lies outside the " +
           std::to_string(field->containerWidth) + "-bit field");
      return;
    }
  }
  if (destination.nxmName == "NXM_NX_CT_MARK") {
    fail("move to " + destination.render() +
         ": ct_mark can only be written inside ct(commit,exec(...))");
    return;
  }
  if (source.width() != destination.width()) {
    fail("move " + source.render() + "->" + destination.render() + ": the source has " +
         std::to_string(source.width()) + " bits and the destination " +
         std::to_string(destination.width()) + "; make the ranges the same width");
    return;
  }
  std::string action = "move:" + source.render() + "->" + destination.render();
  require(source.prerequisite, action);
  require(destination.prerequisite, action);
  append(std::move(action));
}

std::optional<std::string> ActionList::renderCt(const CtAction& ct) {
  std::size_t errorsBefore = errors_.size();
  std::vector<std::string> parts;
  if (ct.commit_) parts.emplace_back("commit");
  if (ct.zone_ && ct.zoneField_) {
    fail("ct: both zone=" + std::to_string(*ct.zone_) + " and a zone field are set; keep one");
  } else if (ct.zone_) {
    parts.push_back("zone=" + std::to_string(*ct.zone_));
  } else if (ct.zoneField_) {
    if (ct.zoneField_->space != FieldSpace::kRegister || ct.zoneField_->width() != 16) {
      fail("ct zone from " + ct.zoneField_->describe() +
           ": the zone field must be a 16-bit register field");
    } else {
      parts.push_back("zone=" + Subfield(*ct.zoneField_).render());
    }
  } else {
    // Zone 0 is shared with everything else on the host; Sluice always names its zone.
    fail("ct: no zone; set zone(kDefaultCtZone) or zone(kSnatCtZone)");
  }
  switch (ct.nat_) {
    case CtAction::NatKind::kNone: break;
    case CtAction::NatKind::kPlain: parts.emplace_back("nat"); break;
    case CtAction::NatKind::kSrc:
    case CtAction::NatKind::kDst: {
      const char* direction = ct.nat_ == CtAction::NatKind::kSrc ? "src" : "dst";
      if (!ct.commit_) {
        fail(std::string("ct nat(") + direction + "=" + ct.natAddress_ +
             "): a new NAT binding needs commit; add commit()");
      }
      auto address = renderNatAddress(ct.natAddress_);
      if (!address) {
        fail(address.error().message);
      } else {
        const std::string port = ct.natPort_ != 0 ? ":" + std::to_string(ct.natPort_) : "";
        parts.push_back(std::string("nat(") + direction + "=" + *address + port + ")");
      }
      break;
    }
  }
  if (!ct.loads_.empty()) {
    if (!ct.commit_) fail("ct exec(load ct_mark): ct_mark is only stored on commit; add commit()");
    std::string exec = "exec(";
    for (std::size_t i = 0; i < ct.loads_.size(); ++i) {
      const auto& load = ct.loads_[i];
      if (load.field.space != FieldSpace::kCtMark) {
        fail("ct exec(load " + load.field.describe() +
             "): only ct_mark fields can be set in ct exec");
      } else if (load.value > load.field.maxValue()) {
        fail("ct exec(load " + renderHex(load.value) + " to " + load.field.describe() +
             "): the value is wider than the field's " + std::to_string(load.field.width()) +
             " bits");
      }
      exec += (i > 0 ? "," : "") +
              ("load:" + renderHex(load.value) + "->" + Subfield(load.field).render());
    }
    parts.push_back(exec + ")");
  }
  if (ct.table_) {
    if (auto id = forwardTable(*ct.table_, "ct(table)"))
      parts.push_back("table=" + std::to_string(*id));
  }
  if (errors_.size() != errorsBefore) return std::nullopt;
  std::string action = "ct(";
  for (std::size_t i = 0; i < parts.size(); ++i) action += (i > 0 ? "," : "") + parts[i];
  return action + ")";
}

void ActionList::ct(const CtAction& ct) {
  auto rendered = renderCt(ct);
  if (!rendered) return;
  commits_ = commits_ || ct.commit_;
  require(Prerequisite::kIp, *rendered);
  append(std::move(*rendered));
}

void ActionList::decTtl() {
  require(Prerequisite::kIp, "dec_ttl");
  append("dec_ttl");
}

LearnAction& LearnAction::table(Table table) {
  table_ = table;
  return *this;
}
LearnAction& LearnAction::priority(std::uint16_t priority) {
  priority_ = priority;
  return *this;
}
LearnAction& LearnAction::cookie(std::uint64_t cookie) {
  cookie_ = cookie;
  return *this;
}
LearnAction& LearnAction::deleteLearned() {
  deleteLearned_ = true;
  return *this;
}
LearnAction& LearnAction::matchEthType(std::uint16_t ethType) {
  ethType_ = ethType;
  return *this;
}
LearnAction& LearnAction::match(const HeaderField& field, std::uint64_t value) {
  matches_.push_back(Constant{&field, value, ""});
  return *this;
}
LearnAction& LearnAction::match(const HeaderField& field, std::string_view value) {
  matches_.push_back(Constant{&field, 0, std::string(value)});
  return *this;
}

LearnAction& LearnAction::matchSame(const HeaderField& field) {
  copies_.push_back(&field);
  return *this;
}
LearnAction& LearnAction::hardTimeout(std::uint32_t seconds) {
  hardTimeout_ = seconds;
  return *this;
}
LearnAction& LearnAction::loadSame(const Field& field) {
  loads_.push_back(Load{field, std::nullopt});
  return *this;
}
LearnAction& LearnAction::loadConstant(const Field& field, std::uint64_t value) {
  loads_.push_back(Load{field, value});
  return *this;
}

std::optional<std::string> ActionList::renderLearn(const LearnAction& learn) {
  const std::size_t errorsBefore = errors_.size();
  std::string action = "learn(";
  if (!learn.table_) {
    fail("learn: no table; set table()");
  } else if (context_.pipeline == nullptr || !context_.pipeline->id(*learn.table_)) {
    fail("learn into " + std::string(tableName(*learn.table_)) +
         ": the table is not in this bridge's pipeline; declare it");
  } else {
    action += "table=" + std::to_string(*context_.pipeline->id(*learn.table_));
  }
  if (!learn.priority_) fail("learn: no priority; set priority()");
  if (learn.priority_) action += ",priority=" + std::to_string(*learn.priority_);
  if (learn.hardTimeout_ != 0) action += ",hard_timeout=" + std::to_string(learn.hardTimeout_);
  if (learn.deleteLearned_) action += ",delete_learned";
  if (learn.cookie_ != 0) action += ",cookie=" + renderHex(learn.cookie_);
  if (learn.ethType_) action += ",eth_type=" + renderHex(*learn.ethType_);
  for (const auto& constant : learn.matches_) {
    const HeaderField& field = *constant.field;
    const std::string name(field.oxmName);
    const bool needsArp = field.prerequisite == Prerequisite::kArp;
    const bool needsIp = field.prerequisite == Prerequisite::kIp;
    if ((needsArp && learn.ethType_ != 0x806) || (needsIp && learn.ethType_ != 0x800))
      fail("learn " + name + ": set matchEthType(" + (needsArp ? "0x806" : "0x800") +
           ") first; OVS needs the Ethernet type before " + name);
    std::string value;
    if (field.kind == ValueKind::kInteger) {
      if (!constant.text.empty()) fail("learn " + name + ": the field takes a number");
      value = std::to_string(constant.number);
    } else if (field.kind == ValueKind::kMac) {
      auto mac = parseMacOrError(constant.text);
      if (!mac) fail("learn " + name + ": " + mac.error().message);
      if (mac) value = mac->toString();
    } else {
      auto ip = parseIpv4OrError(constant.text);
      if (!ip) fail("learn " + name + ": " + ip.error().message);
      if (ip) value = formatIpv4(*ip);
    }
    action += "," + name + "=" + value;
  }
  for (const HeaderField* field : learn.copies_) {
    if (field->prerequisite != Prerequisite::kNone && !learn.ethType_)
      fail("learn " + std::string(field->nxmName) +
           "[]: set matchEthType() first; OVS needs the Ethernet type before it");
    action += "," + std::string(field->nxmName) + "[]";
  }
  for (const auto& load : learn.loads_) {
    if (load.field.space != FieldSpace::kRegister) {
      fail("learn load to " + load.field.describe() + ": only register fields can be loaded");
      continue;
    }
    if (load.constant && *load.constant > load.field.maxValue()) {
      fail("learn load " + renderHex(*load.constant) + " to " + load.field.describe() +
           ": the value is wider than the field");
      continue;
    }
    const std::string target = Subfield(load.field).render();
    action += ",load:" + (load.constant ? renderHex(*load.constant) : target) + "->" + target;
  }
  if (errors_.size() != errorsBefore) return std::nullopt;
  return action + ")";
}

void ActionList::learn(const LearnAction& learn) {
  if (auto rendered = renderLearn(learn)) append(std::move(*rendered));
}

void ActionList::group(std::uint32_t groupId) {
  if (groupId > kMaxGroupId) {
    fail("group:" + std::to_string(groupId) + " is a reserved group ID; use 0.." +
         std::to_string(kMaxGroupId));
    return;
  }
  append("group:" + std::to_string(groupId));
}

void ActionList::modDlSrc(std::string_view mac) {
  auto parsed = parseMacOrError(mac);
  if (!parsed) {
    fail("mod_dl_src: " + parsed.error().message);
    return;
  }
  append("mod_dl_src:" + parsed->toString());
}

void ActionList::modDlDst(std::string_view mac) {
  auto parsed = parseMacOrError(mac);
  if (!parsed) {
    fail("mod_dl_dst: " + parsed.error().message);
    return;
  }
  append("mod_dl_dst:" + parsed->toString());
}

void ActionList::arpReply(std::string_view mac, std::string_view ip) {
  constexpr std::uint64_t kArpReplyOp = 2;
  move(kEthSrc, kEthDst);
  setField(kEthSrc, mac);
  setField(kArpOp, kArpReplyOp);
  move(kArpSha, kArpTha);
  setField(kArpSha, mac);
  move(kArpSpa, kArpTpa);
  setField(kArpSpa, ip);
  outputInPort();
}

std::string ActionList::render() const {
  if (actions_.empty()) return "drop";
  std::string text;
  for (std::size_t i = 0; i < actions_.size(); ++i) text += (i > 0 ? "," : "") + actions_[i];
  return text;
}

}  // namespace sluice::ofrules
