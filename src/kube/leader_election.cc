// Lease-based leader election.
#include "kube/leader_election.h"

#include <cmath>

#include "common/log.h"

namespace sluice::kube {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

LeaseRecord decodeLease(const json& lease) {
  LeaseRecord record;
  auto spec = lease.find("spec");
  if (spec == lease.end() || !spec->is_object()) return record;
  if (auto holder = spec->find("holderIdentity"); holder != spec->end() && holder->is_string()) {
    record.holderIdentity = holder->get<std::string>();
  }
  if (auto duration = spec->find("leaseDurationSeconds");
      duration != spec->end() && duration->is_number()) {
    record.leaseDurationSeconds = duration->get<int64_t>();
  }
  if (auto transitions = spec->find("leaseTransitions");
      transitions != spec->end() && transitions->is_number()) {
    record.leaseTransitions = transitions->get<int64_t>();
  }
  if (auto acquire = spec->find("acquireTime"); acquire != spec->end() && acquire->is_string()) {
    record.acquireTime = parseTime(acquire->get<std::string>());
  }
  if (auto renew = spec->find("renewTime"); renew != spec->end() && renew->is_string()) {
    record.renewTime = parseTime(renew->get<std::string>());
  }
  return record;
}

json encodeLeaseSpec(const LeaseRecord& record) {
  json spec = {{"holderIdentity", record.holderIdentity},
               {"leaseDurationSeconds", record.leaseDurationSeconds},
               {"leaseTransitions", record.leaseTransitions}};
  if (record.acquireTime) spec["acquireTime"] = formatMicroTime(*record.acquireTime);
  if (record.renewTime) spec["renewTime"] = formatMicroTime(*record.renewTime);
  return spec;
}

LeaderElector::LeaderElector(Client& client, LeaderElectionOptions options)
    : client_(client), options_(std::move(options)) {}

LeaderElector::~LeaderElector() { stop(); }

Result<void> LeaderElector::start() {
  if (options_.leaseName.empty() || options_.identity.empty()) {
    return makeError(
        "leader election: leaseName and identity must be set (identity: e.g. the pod name)");
  }
  if (options_.renewDeadline >= options_.leaseDuration) {
    return makeError(
        "leader election: renewDeadline must be shorter than leaseDuration, or two leaders can "
        "overlap");
  }
  if (options_.retryPeriod >= options_.renewDeadline) {
    return makeError("leader election: retryPeriod must be shorter than renewDeadline");
  }
  if (thread_.joinable()) return {};
  thread_ = std::thread([this] { run(); });
  return {};
}

void LeaderElector::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string LeaderElector::observedLeader() const {
  std::lock_guard lock(mutex_);
  return observedHolder_;
}

std::optional<json> LeaderElector::observedLease() const {
  std::lock_guard lock(mutex_);
  return observedLease_;
}

void LeaderElector::waitFor(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void LeaderElector::setLeading(bool leading) {
  if (leading_.exchange(leading) == leading) return;
  SLUICE_LOG(kInfo, "leader") << options_.identity << (leading ? " started" : " stopped")
                              << " leading on lease " << options_.leaseNamespace << "/"
                              << options_.leaseName;
  if (leading && options_.onStartedLeading) options_.onStartedLeading();
  if (!leading && options_.onStoppedLeading) options_.onStoppedLeading();
}

bool LeaderElector::tryAcquireOrRenew() {
  auto now = std::chrono::system_clock::now();
  int64_t durationSeconds = std::max<int64_t>(
      1, static_cast<int64_t>(
             std::ceil(static_cast<double>(options_.leaseDuration.count()) / 1000.0)));
  auto current = client_.get(resources::kLeases, options_.leaseNamespace, options_.leaseName);
  if (!current) {
    if (!current.notFound()) {
      SLUICE_LOG(kWarning, "leader") << current.error().message;
      return false;
    }
    LeaseRecord record{options_.identity, durationSeconds, now, now, 0};
    json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", options_.leaseName}, {"namespace", options_.leaseNamespace}}},
        {"spec", encodeLeaseSpec(record)}};
    auto created = client_.create(resources::kLeases, options_.leaseNamespace, lease);
    if (!created) {
      SLUICE_LOG(kDebug, "leader") << created.error().message;
      return false;
    }
    std::lock_guard lock(mutex_);
    observedLease_ = *created;
    observedResourceVersion_ = resourceVersionOf(*created);
    observedHolder_ = options_.identity;
    observedAt_ = SteadyClock::now();
    return true;
  }
  LeaseRecord record = decodeLease(*current);
  std::string version = resourceVersionOf(*current);
  std::string previousHolder;
  {
    std::lock_guard lock(mutex_);
    previousHolder = observedHolder_;
    if (version != observedResourceVersion_) {
      observedResourceVersion_ = version;
      observedHolder_ = record.holderIdentity;
      observedLeaseDurationSeconds_ = record.leaseDurationSeconds;
      observedAt_ = SteadyClock::now();
    }
    observedLease_ = *current;
  }
  if (record.holderIdentity != previousHolder && options_.onNewLeader &&
      !record.holderIdentity.empty()) {
    options_.onNewLeader(record.holderIdentity);
  }
  bool heldByUs = record.holderIdentity == options_.identity;
  if (!heldByUs && !record.holderIdentity.empty()) {
    std::lock_guard lock(mutex_);
    auto expiry = observedAt_ + std::chrono::seconds(observedLeaseDurationSeconds_);
    if (SteadyClock::now() < expiry) return false;  // someone else holds a live lease
  }
  LeaseRecord next = record;
  next.holderIdentity = options_.identity;
  next.leaseDurationSeconds = durationSeconds;
  next.renewTime = now;
  if (!heldByUs) {
    next.acquireTime = now;
    next.leaseTransitions = record.leaseTransitions + (record.holderIdentity.empty() ? 0 : 1);
  }
  json updated = *current;
  updated["spec"] = encodeLeaseSpec(next);
  // PUT carries metadata.resourceVersion: if another candidate wrote first, we get 409 and lose.
  auto written = client_.update(resources::kLeases, updated);
  if (!written) {
    SLUICE_LOG(kDebug, "leader") << written.error().message;
    return false;
  }
  std::lock_guard lock(mutex_);
  observedLease_ = *written;
  observedResourceVersion_ = resourceVersionOf(*written);
  observedHolder_ = options_.identity;
  observedAt_ = SteadyClock::now();
  return true;
}

void LeaderElector::release() {
  std::optional<json> lease;
  {
    std::lock_guard lock(mutex_);
    lease = observedLease_;
  }
  if (!lease) return;
  LeaseRecord record = decodeLease(*lease);
  if (record.holderIdentity != options_.identity) return;
  record.holderIdentity.clear();
  record.leaseDurationSeconds = 1;
  record.renewTime = std::chrono::system_clock::now();
  json updated = *lease;
  updated["spec"] = encodeLeaseSpec(record);
  updated["spec"].erase("holderIdentity");
  auto written = client_.update(resources::kLeases, updated);
  if (!written) {
    SLUICE_LOG(kWarning, "leader") << "releasing the lease: " << written.error().message;
  }
}

bool LeaderElector::holdsLease() const {
  return leading_.load() && SteadyClock::now().time_since_epoch().count() < validUntil_.load();
}

void LeaderElector::run() {
  // A renewal counts from when it was sent: the Lease's new version was written no earlier, so a
  // successor waits leaseDuration from a moment no earlier than that.
  auto renewed = [this](SteadyClock::time_point sentAt) {
    validUntil_ = (sentAt + options_.renewDeadline).time_since_epoch().count();
  };
  while (!stopping_) {
    // Campaign: try every retryPeriod until we hold the lease.
    auto sentAt = SteadyClock::now();
    if (!tryAcquireOrRenew()) {
      waitFor(options_.retryPeriod);
      continue;
    }
    renewed(sentAt);
    setLeading(true);
    // Lead: renew every retryPeriod; a renewal that cannot succeed within renewDeadline ends it.
    auto lastRenew = sentAt;
    while (!stopping_) {
      waitFor(options_.retryPeriod);
      if (stopping_) break;
      sentAt = SteadyClock::now();
      if (tryAcquireOrRenew()) {
        renewed(sentAt);
        lastRenew = sentAt;
        continue;
      }
      if (observedLeader() != options_.identity) break;  // someone else holds it now
      if (SteadyClock::now() - lastRenew >= options_.renewDeadline) break;
    }
    // Lost leadership (or stopping): stop work before anyone else can take the lease.
    setLeading(false);
  }
  if (options_.releaseOnStop) release();
}

}  // namespace sluice::kube
