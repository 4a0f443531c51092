// FlowEncoder: turns Flow and Group values into OpenFlow 1.5 messages through libopenvswitch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "ofrules/flow.h"

struct ofpbuf;
struct match;

namespace sluice::ofrules {

// One encoded OpenFlow message, owned. Frees the OVS buffer on destruction.
class OfpMessage {
 public:
  OfpMessage() = default;
  explicit OfpMessage(ofpbuf* buffer) : buffer_(buffer) {}
  ofpbuf* get() const { return buffer_.get(); }
  explicit operator bool() const { return buffer_ != nullptr; }
  // The transaction id the message was encoded with; errors from the switch carry it.
  std::uint32_t xid() const;

 private:
  struct Deleter {
    void operator()(ofpbuf* buffer) const;
  };
  std::unique_ptr<ofpbuf, Deleter> buffer_;
};

// OFPFC_ADD of `flow` with `cookie` (the caller has already put the restart round in it).
// OFPFC_ADD replaces a flow with the same table, priority and match atomically.
Result<OfpMessage> encodeFlowAdd(const Flow& flow, std::uint64_t cookie);
// OFPFC_DELETE_STRICT of exactly the flow with this key.
Result<OfpMessage> encodeFlowDeleteStrict(const FlowKey& key);
// OFPFC_DELETE_STRICT of a flow as the switch reported it (a struct match from a flow dump).
OfpMessage encodeFlowDeleteStrict(const ::match& flowMatch, std::uint8_t table,
                                  std::uint16_t priority);
// OFPFC_DELETE of every flow in every table.
OfpMessage encodeDeleteAllFlows();

enum class GroupCommand : std::uint8_t { kAdd, kModify };
Result<OfpMessage> encodeGroupMod(const Group& group, GroupCommand command);
OfpMessage encodeGroupDelete(std::uint32_t groupId);
// OFPGC_DELETE of every group (OFPG_ALL).
OfpMessage encodeDeleteAllGroups();

// The ovs-ofctl text of a group, e.g. "group_id=1,type=select,bucket=bucket_id=0,weight=10,...".
std::string groupModText(const Group& group);
// "table=T,priority=P,MATCH": the flow-mod text of a flow's key, as named in error messages.
std::string describeFlowKey(const FlowKey& key);

// The match as OVS itself prints it (field order and spelling of ovs-ofctl dump-flows), so a
// desired flow can be compared with a flow dumped from the switch. Priority is not included.
Result<std::string> canonicalMatch(const FlowKey& key);

}  // namespace sluice::ofrules
