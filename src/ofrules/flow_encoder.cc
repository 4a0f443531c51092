// Flow/Group -> OpenFlow 1.5 messages through libopenvswitch's own parsers and encoders.
#include "ofrules/flow_encoder.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "ofrules/ovs_headers.h"

namespace sluice::ofrules {
namespace {

constexpr auto kProtocol = OFPUTIL_P_OF15_OXM;
constexpr auto kVersion = OFP15_VERSION;

// Takes ownership of a malloc()'d OVS error string.
std::string takeOvsError(char* error) {
  std::string text = error ? error : "unknown error";
  free(error);
  return text;
}

// A parsed flow mod whose OVS allocations are released on scope exit.
class ParsedFlowMod {
 public:
  ParsedFlowMod() = default;
  ~ParsedFlowMod() {
    if (parsed_) {
      minimatch_destroy(&flowMod_.match);
      free(flowMod_.ofpacts);
    }
  }
  ParsedFlowMod(const ParsedFlowMod&) = delete;
  ParsedFlowMod& operator=(const ParsedFlowMod&) = delete;

  // Returns an empty string on success, else OVS's message.
  std::string parse(const std::string& text, int command) {
    auto usable = static_cast<enum ofputil_protocol>(OFPUTIL_P_ANY);
    char* error =
        parse_ofp_flow_mod_str(&flowMod_, text.c_str(), nullptr, nullptr, command, &usable);
    if (error) {
      return takeOvsError(error);
    }
    parsed_ = true;
    if (!(usable & kProtocol)) {
      return "the flow cannot be expressed in OpenFlow 1.5";
    }
    return {};
  }
  const ofputil_flow_mod& get() const { return flowMod_; }

 private:
  ofputil_flow_mod flowMod_{};
  bool parsed_ = false;
};

class ParsedGroupMod {
 public:
  ParsedGroupMod() = default;
  ~ParsedGroupMod() {
    if (parsed_) {
      ofputil_uninit_group_mod(&groupMod_);
    }
  }
  ParsedGroupMod(const ParsedGroupMod&) = delete;
  ParsedGroupMod& operator=(const ParsedGroupMod&) = delete;

  std::string parse(const std::string& text, int command) {
    auto usable = static_cast<enum ofputil_protocol>(OFPUTIL_P_ANY);
    char* error =
        parse_ofp_group_mod_str(&groupMod_, command, text.c_str(), nullptr, nullptr, &usable);
    if (error) {
      return takeOvsError(error);
    }
    parsed_ = true;
    if (!(usable & kProtocol)) {
      return "the group cannot be expressed in OpenFlow 1.5";
    }
    return {};
  }
  const ofputil_group_mod& get() const { return groupMod_; }

 private:
  ofputil_group_mod groupMod_{};
  bool parsed_ = false;
};

std::string keyText(const FlowKey& key) {
  std::string text =
      "table=" + std::to_string(key.table) + ",priority=" + std::to_string(key.priority);
  if (!key.match.empty()) {
    text += ",";
    text += key.match;
  }
  return text;
}

std::string hexCookie(std::uint64_t cookie) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "0x%" PRIx64, cookie);
  return buffer;
}

const char* groupTypeName(GroupType type) {
  switch (type) {
    case GroupType::kSelect: return "select";
    case GroupType::kAll: return "all";
    case GroupType::kIndirect: return "indirect";
    case GroupType::kFastFailover: return "ff";
  }
  return "select";
}

OfpMessage mustParseGroup(const std::string& text, int command) {
  ParsedGroupMod parsed;
  std::string error = parsed.parse(text, command);
  // Fixed texts built here; failing to parse them is a bug, not user input.
  if (!error.empty()) {
    std::fprintf(stderr, "sluice: cannot parse built-in group mod '%s': %s\n", text.c_str(),
                 error.c_str());
    std::abort();
  }
  return OfpMessage(ofputil_encode_group_mod(kVersion, &parsed.get(), nullptr, -1));
}

}  // namespace

void OfpMessage::Deleter::operator()(ofpbuf* buffer) const { ofpbuf_delete(buffer); }

std::uint32_t OfpMessage::xid() const {
  return ntohl(static_cast<const ofp_header*>(buffer_->data)->xid);
}

std::string describeFlowKey(const FlowKey& key) { return keyText(key); }

Result<OfpMessage> encodeFlowAdd(const Flow& flow, std::uint64_t cookie) {
  std::string text = keyText(flow.key()) + ",cookie=" + hexCookie(cookie) +
                     ",actions=" + (flow.actions.empty() ? std::string("drop") : flow.actions);
  ParsedFlowMod parsed;
  if (std::string error = parsed.parse(text, OFPFC_ADD); !error.empty()) {
    return makeError("flow \"" + keyText(flow.key()) + " actions=" + flow.actions +
                     "\" is not valid OpenFlow: " + error +
                     "; fix the match or actions in the flow builder");
  }
  return OfpMessage(ofputil_encode_flow_mod(&parsed.get(), kProtocol));
}

Result<OfpMessage> encodeFlowDeleteStrict(const FlowKey& key) {
  ParsedFlowMod parsed;
  if (std::string error = parsed.parse(keyText(key), OFPFC_DELETE_STRICT); !error.empty()) {
    return makeError("flow \"" + keyText(key) + "\" cannot be deleted: " + error);
  }
  return OfpMessage(ofputil_encode_flow_mod(&parsed.get(), kProtocol));
}

OfpMessage encodeFlowDeleteStrict(const ::match& flowMatch, std::uint8_t table,
                                  std::uint16_t priority) {
  // Same defaults parse_ofp_str() gives a delete; the match comes straight from the dump, so no
  // text round trip can change it.
  ofputil_flow_mod flowMod{};
  minimatch_init(&flowMod.match, &flowMatch);
  flowMod.priority = priority;
  flowMod.cookie = htobe64(0);
  flowMod.cookie_mask = htobe64(0);
  flowMod.new_cookie = OVS_BE64_MAX;
  flowMod.modify_cookie = false;
  flowMod.table_id = table;
  flowMod.command = OFPFC_DELETE_STRICT;
  flowMod.buffer_id = UINT32_MAX;
  flowMod.out_port = OFPP_ANY;
  flowMod.out_group = OFPG_ANY;
  OfpMessage message(ofputil_encode_flow_mod(&flowMod, kProtocol));
  minimatch_destroy(&flowMod.match);
  return message;
}

OfpMessage encodeDeleteAllFlows() {
  ParsedFlowMod parsed;
  // The empty string is a catch-all match over all tables (table_id 255) for a delete.
  std::string error = parsed.parse("", OFPFC_DELETE);
  if (!error.empty()) {
    std::fprintf(stderr, "sluice: cannot parse delete-all flow mod: %s\n", error.c_str());
    std::abort();
  }
  return OfpMessage(ofputil_encode_flow_mod(&parsed.get(), kProtocol));
}

std::string groupModText(const Group& group) {
  std::string text = "group_id=" + std::to_string(group.id) + ",type=" + groupTypeName(group.type);
  if (!group.selectionMethod.empty()) {
    text += ",selection_method=" + group.selectionMethod;
    if (!group.selectionFields.empty()) {
      text += ",fields(";
      for (std::size_t i = 0; i < group.selectionFields.size(); ++i)
        text += (i > 0 ? "," : "") + group.selectionFields[i];
      text += ")";
    }
  }
  for (std::size_t i = 0; i < group.buckets.size(); ++i) {
    const Bucket& bucket = group.buckets[i];
    text += ",bucket=bucket_id=" + std::to_string(i);
    if (group.type == GroupType::kSelect) {
      text += ",weight=" + std::to_string(bucket.weight);
    }
    text += ",actions=" + (bucket.actions.empty() ? std::string("drop") : bucket.actions);
  }
  return text;
}

Result<OfpMessage> encodeGroupMod(const Group& group, GroupCommand command) {
  ParsedGroupMod parsed;
  std::string text = groupModText(group);
  int ofpCommand = command == GroupCommand::kAdd ? OFPGC15_ADD : OFPGC15_MODIFY;
  if (std::string error = parsed.parse(text, ofpCommand); !error.empty()) {
    return makeError("group \"" + text + "\" is not valid OpenFlow: " + error +
                     "; fix the group's buckets in the flow builder");
  }
  return OfpMessage(ofputil_encode_group_mod(kVersion, &parsed.get(), nullptr, -1));
}

OfpMessage encodeGroupDelete(std::uint32_t groupId) {
  return mustParseGroup("group_id=" + std::to_string(groupId), OFPGC15_DELETE);
}

OfpMessage encodeDeleteAllGroups() { return mustParseGroup("group_id=all", OFPGC15_DELETE); }

Result<std::string> canonicalMatch(const FlowKey& key) {
  ParsedFlowMod parsed;
  if (std::string error = parsed.parse(keyText(key), OFPFC_DELETE_STRICT); !error.empty()) {
    return makeError("flow \"" + keyText(key) + "\" is not valid OpenFlow: " + error);
  }
  ds text = DS_EMPTY_INITIALIZER;
  minimatch_format(&parsed.get().match, nullptr, nullptr, &text, OFP_DEFAULT_PRIORITY);
  std::string result(ds_cstr(&text));
  ds_destroy(&text);
  return result;
}

}  // namespace sluice::ofrules
