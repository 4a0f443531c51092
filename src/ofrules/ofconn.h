// OfConnection: one persistent OpenFlow 1.5 connection to a bridge (libopenvswitch vconn), with
// reconnect backoff, ordered atomic bundles and flow/group dumps. Not thread-safe: use it from one
// thread only (see docs/threading.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "ofrules/flow_encoder.h"

struct vconn;
struct ofputil_flow_stats;

namespace sluice::ofrules {

struct OfConnectionOptions {
  std::string target;  // e.g. "unix:/var/run/openvswitch/br-int.mgmt"
  // After a failed connect, wait at least this long before the next try, doubling up to the max.
  std::chrono::milliseconds minBackoff{20};
  std::chrono::milliseconds maxBackoff{200};
  // Bound on one blocking connect attempt.
  std::chrono::milliseconds connectTimeout{1000};
};

// A message of a bundle that the switch refused, with the switch's error as text.
struct RejectedMessage {
  std::size_t index = 0;  // position in the bundle
  std::string error;      // e.g. "OFPBAC_BAD_OUT_GROUP: ..."
};

struct BundleFailure {
  std::string message;                    // what failed, ready for a log line
  std::vector<RejectedMessage> rejected;  // empty when the connection itself failed
  bool connectionLost = false;
};

// Filter for a flow dump; the defaults select every flow.
struct FlowDumpFilter {
  std::optional<std::uint8_t> table;
  std::uint64_t cookie = 0;
  std::uint64_t cookieMask = 0;  // 0: any cookie
};

class OfConnection {
 public:
  explicit OfConnection(OfConnectionOptions options);
  ~OfConnection();
  OfConnection(const OfConnection&) = delete;
  OfConnection& operator=(const OfConnection&) = delete;

  const std::string& target() const { return options_.target; }
  bool connected() const { return vconn_ != nullptr; }
  // Increments on every successful connect: a caller that saw generation N and now sees N+1
  // knows the switch may have lost (or never had) what it installed.
  std::uint64_t generation() const { return generation_; }
  std::uint64_t reconnects() const { return generation_ > 0 ? generation_ - 1 : 0; }

  // Connects if not connected and the backoff has expired. OK when connected afterwards.
  Result<void> ensureConnected();
  // Non-blocking housekeeping: answers echo requests, notices a closed connection.
  void poll();
  void disconnect();

  // Sends `messages` as one OFPBF_ORDERED|OFPBF_ATOMIC bundle, then a barrier. On any error the
  // bundle is discarded by the switch: nothing of it is applied.
  std::optional<BundleFailure> sendBundle(const std::vector<const OfpMessage*>& messages);

  // Flow stats dump. Calls `visit` for each flow; the pointer is valid only during the call.
  template <typename Visit>
  Result<void> dumpFlows(const FlowDumpFilter& filter, Visit&& visit);
  Result<std::vector<std::uint32_t>> dumpGroupIds();

 private:
  Result<void> dumpFlowsRaw(const FlowDumpFilter& filter, ofputil_flow_stats** stats,
                            std::size_t* count);
  static void freeFlowStats(ofputil_flow_stats* stats, std::size_t count);
  static const ofputil_flow_stats* at(const ofputil_flow_stats* stats, std::size_t index);
  Error lost(const std::string& what, int error);

  OfConnectionOptions options_;
  ::vconn* vconn_ = nullptr;
  std::uint64_t generation_ = 0;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point nextAttempt_{};
};

template <typename Visit>
Result<void> OfConnection::dumpFlows(const FlowDumpFilter& filter, Visit&& visit) {
  ofputil_flow_stats* stats = nullptr;
  std::size_t count = 0;
  if (auto result = dumpFlowsRaw(filter, &stats, &count); !result) {
    return result;
  }
  struct Release {
    ofputil_flow_stats* stats;
    std::size_t count;
    ~Release() { freeFlowStats(stats, count); }
  } release{stats, count};
  for (std::size_t i = 0; i < count; ++i) {
    visit(*at(stats, i));
  }
  return {};
}

}  // namespace sluice::ofrules
