// Fencing and unfencing of this node's egress IPs (egress_fencing.h).
#include "agent/egress_fencing.h"

#include "common/log.h"
#include "kube/resource.h"

namespace sluice::agent {

EgressFencing::EgressFencing(Dependencies dependencies, EgressFencingOptions options)
    : deps_(std::move(dependencies)), options_(std::move(options)) {}

EgressFencing::~EgressFencing() { stop(); }

void EgressFencing::stop() {
  if (liveness_) liveness_->stop();
  if (unfenceReader_.joinable()) unfenceReader_.join();
}

bool EgressFencing::holdsNothing() { return fenced_ || !egressCacheCaughtUp(); }

void EgressFencing::start() {
  // Until the controller has heard this agent, it keeps what status gives it for one fencing
  // timeout (a restart must not interrupt SNAT), and then holds nothing until it is heard.
  deps_.loop.postAt(TaskLoop::Clock::now() + options_.fencingTimeout, [this] {
    if (heard_) return;
    fenced_ = true;
    deps_.onChange();
  });
  if (options_.controllerAddress.empty()) {
    SLUICE_LOG(kWarning, "agent")
        << "no controller address (controllerAddress, or the " << options_.controllerService
        << " Service's environment): this node will never be an egress node";
    return;
  }
  liveness_ = std::make_unique<LivenessReporter>(LivenessReporterOptions{
      .nodeName = options_.nodeName,
      .controllerAddress = options_.controllerAddress,
      .reportInterval = options_.reportInterval,
      .fencingTimeout = options_.fencingTimeout,
      .onFenced =
          [this] {
            SLUICE_LOG(kWarning, "liveness")
                << "fenced: no report reached the controller in time; dropping egress IPs";
            fenced_ = true;
            deps_.loop.post([this] { deps_.onChange(); });
          },
      .onUnfenced =
          [this] {
            SLUICE_LOG(kInfo, "liveness") << "the controller hears this node";
            heard_ = true;
            deps_.loop.post([this] { startUnfencing(); });
          }});
  if (auto started = liveness_->start(); !started)
    SLUICE_LOG(kWarning, "agent") << "liveness reports: " << started.error().message;
}

void EgressFencing::startUnfencing() {
  if (!fenced_ || unfencing_) {
    if (!fenced_) deps_.onChange();
    return;
  }
  // Back from a partition, the Egress cache may still be from before it: an IP that moved away
  // meanwhile would be taken back (and GARPed) for as long as the watch takes to catch up. So
  // read the Egresses now, and own nothing until the cache is at least that new.
  unfencing_ = true;
  if (unfenceReader_.joinable()) unfenceReader_.join();
  unfenceReader_ = std::thread([this] {
    auto listed = deps_.client.list(kube::resources::kEgresses, "");
    std::map<std::string, std::string> barrier;
    if (listed)
      for (const auto& item : listed->value("items", nlohmann::json::array()))
        barrier[kube::keyOf(item)] = kube::resourceVersionOf(item);
    deps_.loop.post([this, ok = listed.ok(), barrier = std::move(barrier)] {
      unfencing_ = false;
      if (!ok) {  // the controller hears us but the API server does not answer: try again soon
        deps_.loop.postAt(TaskLoop::Clock::now() + std::chrono::milliseconds(200),
                          [this] { startUnfencing(); });
        return;
      }
      if (!heard_ || (liveness_ && liveness_->fenced())) return;  // fenced again meanwhile
      barrier_ = barrier;
      fenced_ = false;
      deps_.onChange();
    });
  });
}

bool EgressFencing::egressCacheCaughtUp() {
  std::erase_if(barrier_, [&](const auto& entry) {
    const auto cached = deps_.egresses.get(entry.first);
    // Gone from the cache: deleted since (or not seen yet, and then it gives us nothing).
    return !cached || kube::versionAtLeast(kube::resourceVersionOf(*cached), entry.second);
  });
  return barrier_.empty();
}

}  // namespace sluice::agent
