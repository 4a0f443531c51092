// One persistent vconn to a bridge: connect with backoff, bundles, dumps, echo replies.
#include "ofrules/ofconn.h"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "common/log.h"
#include "ofrules/ovs_headers.h"

extern "C" {
#include <openvswitch/util.h>
}

namespace sluice::ofrules {
namespace {

constexpr char kComponent[] = "ofconn";

std::string errnoText(int error) {
  if (error == EOF) {
    return "connection closed by the switch";
  }
  return std::strerror(error);
}

// "OFPBAC_BAD_OUT_GROUP (invalid group id in output action)": the switch's error as text.
std::string describeOfpError(const ofpbuf* message) {
  const auto* header = static_cast<const ofp_header*>(message->data);
  enum ofperr error = ofperr_decode_msg(header, nullptr);
  if (!error) {
    return "undecodable error message from the switch";
  }
  std::string text = ofperr_get_name(error);
  if (const char* description = ofperr_get_description(error)) {
    text += std::string(" (") + description + ")";
  }
  return text;
}

// Process-wide set-up for libopenvswitch, once. Its logging goes to stderr by itself; the
// timeval/coverage modules complain about long intervals between poll loop calls, which are
// normal here: the agent, not OVS, runs the loop.
void initOvsLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
    // vconn writes to its socket with write(2): a switch that died would kill the whole agent
    // with SIGPIPE. Ignore it unless the program chose a handler itself; writes then fail with
    // EPIPE, which becomes a reconnect.
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
    for (const char* module : {"timeval", "coverage", "poll_loop"}) {
      if (vlog_module* found = vlog_module_from_name(module)) {
        vlog_set_levels(found, VLF_ANY_DESTINATION, VLL_ERR);
      }
    }
  });
}

}  // namespace

OfConnection::OfConnection(OfConnectionOptions options) : options_(std::move(options)) {
  initOvsLibrary();
}

OfConnection::~OfConnection() { disconnect(); }

void OfConnection::disconnect() {
  if (vconn_) {
    vconn_close(vconn_);
    vconn_ = nullptr;
  }
}

Error OfConnection::lost(const std::string& what, int error) {
  SLUICE_LOG(kWarning, kComponent)
      << options_.target << ": " << what << ": " << errnoText(error) << "; reconnecting";
  disconnect();
  return makeError(options_.target + ": " + what + ": " + errnoText(error));
}

Result<void> OfConnection::ensureConnected() {
  if (vconn_) {
    return {};
  }
  auto now = std::chrono::steady_clock::now();
  if (now < nextAttempt_) {
    return makeError(options_.target + ": not connected to the switch (retrying)");
  }
  ::vconn* connection = nullptr;
  int error = vconn_open_block(options_.target.c_str(), 1u << OFP15_VERSION, 0,
                               options_.connectTimeout.count(), &connection);
  if (error) {
    backoff_ = std::clamp(backoff_ * 2, options_.minBackoff, options_.maxBackoff);
    nextAttempt_ = now + backoff_;
    return makeError(options_.target + ": cannot connect to the switch: " + errnoText(error) +
                     " (is ovs-vswitchd running, with the bridge and OpenFlow15 enabled?)");
  }
  vconn_ = connection;
  backoff_ = std::chrono::milliseconds{0};
  ++generation_;
  SLUICE_LOG(kInfo, kComponent) << options_.target << ": connected (generation " << generation_
                                << ")";
  return {};
}

void OfConnection::poll() {
  while (vconn_) {
    vconn_run(vconn_);
    ofpbuf* message = nullptr;
    int error = vconn_recv(vconn_, &message);
    if (error == EAGAIN) {
      return;
    }
    if (error) {
      (void)lost("receive", error);
      return;
    }
    enum ofptype type;
    const auto* header = static_cast<const ofp_header*>(message->data);
    if (!ofptype_decode(&type, header) && type == OFPTYPE_ECHO_REQUEST) {
      ofpbuf* reply = ofputil_encode_echo_reply(header);
      if (int sendError = vconn_send(vconn_, reply); sendError) {
        ofpbuf_delete(reply);
      }
    }
    ofpbuf_delete(message);
  }
}

std::optional<BundleFailure> OfConnection::sendBundle(
    const std::vector<const OfpMessage*>& messages) {
  if (!vconn_) {
    return BundleFailure{options_.target + ": not connected to the switch", {}, true};
  }
  ovs_list requests;
  ovs_list_init(&requests);
  std::unordered_map<std::uint32_t, std::size_t> indexByXid;
  indexByXid.reserve(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    // The list only borrows the buffers; vconn_bundle_transact neither frees nor keeps them.
    ovs_list_push_back(&requests, &messages[i]->get()->list_node);
    indexByXid.emplace(messages[i]->xid(), i);
  }
  ovs_list errors;
  int error = vconn_bundle_transact(vconn_, &requests, OFPBF_ORDERED | OFPBF_ATOMIC, &errors);

  std::vector<RejectedMessage> rejected;
  std::string errorTexts;
  while (!ovs_list_is_empty(&errors)) {
    ofpbuf* reply = ofpbuf_from_list(ovs_list_pop_front(&errors));
    std::string text = describeOfpError(reply);
    std::uint32_t xid = ntohl(static_cast<const ofp_header*>(reply->data)->xid);
    if (auto it = indexByXid.find(xid); it != indexByXid.end()) {
      rejected.push_back(RejectedMessage{it->second, text});
    } else {
      errorTexts += (errorTexts.empty() ? "" : "; ") + text;
    }
    ofpbuf_delete(reply);
  }
  if (error == EPROTO || (!error && (!rejected.empty() || !errorTexts.empty()))) {
    std::string message = options_.target + ": the switch rejected the bundle (" +
                          std::to_string(rejected.size()) + " message(s) refused";
    if (!errorTexts.empty()) {
      message += "; " + errorTexts;
    }
    message += "); nothing of it was applied";
    return BundleFailure{message, std::move(rejected), false};
  }
  if (error) {
    return BundleFailure{lost("bundle", error).message, {}, true};
  }
  // The commit reply already means "applied"; the barrier also flushes anything queued before.
  ofpbuf* barrierReply = nullptr;
  error = vconn_transact(vconn_, ofputil_encode_barrier_request(OFP15_VERSION), &barrierReply);
  ofpbuf_delete(barrierReply);
  if (error) {
    return BundleFailure{lost("barrier after bundle", error).message, {}, true};
  }
  return std::nullopt;
}

Result<void> OfConnection::dumpFlowsRaw(const FlowDumpFilter& filter, ofputil_flow_stats** stats,
                                        std::size_t* count) {
  if (auto connected = ensureConnected(); !connected) {
    return connected;
  }
  ofputil_flow_stats_request request{};
  request.aggregate = false;
  match_init_catchall(&request.match);
  request.cookie = htobe64(filter.cookie);
  request.cookie_mask = htobe64(filter.cookieMask);
  request.out_port = OFPP_ANY;
  request.out_group = OFPG_ANY;
  request.table_id = filter.table ? *filter.table : 0xff;
  int error = vconn_dump_flows(vconn_, &request, OFPUTIL_P_OF15_OXM, stats, count);
  if (error) {
    return lost("flow dump", error);
  }
  return {};
}

void OfConnection::freeFlowStats(ofputil_flow_stats* stats, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    free(const_cast<ofpact*>(stats[i].ofpacts));
  }
  free(stats);
}

const ofputil_flow_stats* OfConnection::at(const ofputil_flow_stats* stats, std::size_t index) {
  return &stats[index];
}

Result<std::vector<std::uint32_t>> OfConnection::dumpGroupIds() {
  if (auto connected = ensureConnected(); !connected) {
    return connected.error();
  }
  ovs_list requests;
  ovs_list_init(&requests);
  ofpbuf* request = ofputil_encode_group_desc_request(OFP15_VERSION, OFPG_ALL);
  ovs_list_push_back(&requests, &request->list_node);
  ovs_list replies;
  int error = vconn_transact_multipart(vconn_, &requests, &replies);
  if (error) {
    return lost("group dump", error);
  }
  std::vector<std::uint32_t> ids;
  std::string failure;
  while (!ovs_list_is_empty(&replies)) {
    ofpbuf* reply = ofpbuf_from_list(ovs_list_pop_front(&replies));
    enum ofptype type;
    if (ofptype_decode(&type, static_cast<const ofp_header*>(reply->data)) ||
        type != OFPTYPE_GROUP_DESC_STATS_REPLY) {
      failure = type == OFPTYPE_ERROR ? describeOfpError(reply) : "unexpected reply";
    } else {
      for (;;) {
        ofputil_group_desc description;
        int decoded = ofputil_decode_group_desc_reply(&description, reply, OFP15_VERSION);
        if (decoded == EOF) {
          break;
        }
        if (decoded) {
          failure = std::string("undecodable group description: ") +
                    ofperr_to_string(static_cast<enum ofperr>(decoded));
          break;
        }
        ids.push_back(description.group_id);
        ofputil_uninit_group_desc(&description);
      }
    }
    ofpbuf_delete(reply);
  }
  if (!failure.empty()) {
    return makeError(options_.target + ": group dump failed: " + failure);
  }
  return ids;
}

}  // namespace sluice::ofrules
