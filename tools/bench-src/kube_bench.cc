// tools/bench kube: informer initial sync of 10,000 pods (time, peak RSS) and watch-event latency
// and throughput, against a lab API server this benchmark starts itself.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "../../tests/kube/apiserver_fixture.h"
#include "common/log.h"
#include "kube/informer.h"

namespace {

using namespace sluice::kube;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kPods = 10'000;
constexpr int kWriters = 8;
constexpr const char* kNamespace = "bench";
constexpr const char* kSentAnnotation = "bench.sluice.dev/sent-ns";

int64_t statusKb(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stoll(line.substr(std::strlen(field) + 1));
  }
  return 0;
}

// Resets VmHWM to the current RSS, so the next VmHWM is the peak of the phase that follows.
void resetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

json benchPod(int index) {
  std::string name = "pod-" + std::to_string(index);
  std::string node = "node-" + std::to_string(index % 100);
  return json{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"namespace", kNamespace},
        {"labels", {{"app", "web-" + std::to_string(index % 50)}, {"tier", "frontend"}}},
        {"annotations", {{"sluice.dev/owner", "bench"}}}}},
      {"spec",
       {{"nodeName", node},
        {"containers",
         json::array({{{"name", "app"},
                       {"image", "registry.example/app:1.2.3"},
                       {"ports", json::array({{{"containerPort", 8080}, {"protocol", "TCP"}}})},
                       {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}}}}})}}},
      {"status",
       {{"phase", "Running"},
        {"podIP", "10.244." + std::to_string(index / 250) + "." + std::to_string(index % 250 + 1)},
        {"hostIP", "192.168.0." + std::to_string(index % 100 + 1)}}}};
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<size_t>(std::lround(p / 100.0 * static_cast<double>(values.size() - 1)));
  return values[std::min(index, values.size() - 1)];
}

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

int run() {
  sluice::log::setLevel(sluice::log::Level::kWarning);
  // A history big enough that the paced phase never expires the watch.
  auto server =
      sluice::kube::testing::ApiServer::start({.persistent = false, .watchCacheSize = 50'000});
  if (!server) {
    std::cerr << "bench kube: " << server.error().message << "\n";
    return 1;
  }
  auto clientResult = (*server)->client();
  if (!clientResult) {
    std::cerr << "bench kube: " << clientResult.error().message << "\n";
    return 1;
  }
  Client& client = **clientResult;
  if (auto ns = sluice::kube::testing::ensureNamespace(client, kNamespace); !ns) {
    std::cerr << "bench kube: " << ns.error().message << "\n";
    return 1;
  }

  // Create the pods over several pooled connections.
  auto createStart = Clock::now();
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < kPods; i += kWriters) {
        auto created = client.create(resources::kPods, kNamespace, benchPod(i));
        if (!created && failures++ == 0) std::cerr << created.error().message << "\n";
      }
    });
  }
  for (auto& writer : writers) writer.join();
  double createMs = std::chrono::duration<double, std::milli>(Clock::now() - createStart).count();
  if (failures > 0) {
    std::cerr << "bench kube: " << failures << " pod creations failed\n";
    return 1;
  }
  std::printf("INFO created %d pods in %.0f ms (%d connections)\n", kPods, createMs, kWriters);

  // Phase 1: initial list + watch sync.
  std::atomic<int64_t> received{0};
  std::mutex latencyMutex;
  std::vector<double> latencies;
  std::atomic<bool> measuring{false};
  Informer informer(client, InformerOptions{.resource = resources::kPods, .ns = kNamespace});
  informer.addHandlers(EventHandlers{
      .onAdd = nullptr,
      .onUpdate =
          [&](const ObjectPtr&, const ObjectPtr& object) {
            int64_t now = nowNs();
            ++received;
            if (!measuring) return;
            const json& annotations = (*object)["metadata"]["annotations"];
            auto sent = annotations.find(kSentAnnotation);
            if (sent == annotations.end()) return;
            double ms = static_cast<double>(now - std::stoll(sent->get<std::string>())) / 1e6;
            std::lock_guard lock(latencyMutex);
            latencies.push_back(ms);
          },
      .onDelete = nullptr});
  resetPeakRss();
  int64_t rssBeforeKb = statusKb("VmRSS:");
  auto syncStart = Clock::now();
  informer.start();
  if (!informer.waitForSync(120s)) {
    std::cerr << "bench kube: informer did not sync within 120 s\n";
    return 1;
  }
  double syncMs = std::chrono::duration<double, std::milli>(Clock::now() - syncStart).count();
  int64_t peakKb = statusKb("VmHWM:");
  int64_t rssAfterKb = statusKb("VmRSS:");
  if (informer.size() != static_cast<size_t>(kPods)) {
    std::cerr << "bench kube: informer holds " << informer.size() << " pods, expected " << kPods
              << "\n";
    return 1;
  }
  // The machine is shared and noisy: time two more syncs with fresh informers, report the median.
  std::vector<double> syncTimes = {syncMs};
  for (int round = 0; round < 2; ++round) {
    Informer again(client, InformerOptions{.resource = resources::kPods, .ns = kNamespace});
    auto start = Clock::now();
    again.start();
    if (!again.waitForSync(120s)) {
      std::cerr << "bench kube: informer did not sync within 120 s\n";
      return 1;
    }
    syncTimes.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::printf("INFO initial sync times: %.0f, %.0f, %.0f ms\n", syncTimes[0], syncTimes[1],
              syncTimes[2]);
  {
    Informer paged(
        client, InformerOptions{.resource = resources::kPods, .ns = kNamespace, .pageSize = 500});
    auto start = Clock::now();
    paged.start();
    if (paged.waitForSync(120s)) {
      std::printf("INFO initial sync in pages of 500: %.0f ms\n",
                  std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
  }
  std::printf("BENCH kube.initial_sync_10k_ms=%.0f\n", percentile(syncTimes, 50));
  std::printf("BENCH kube.initial_sync_10k_peak_rss_mb=%.1f\n",
              static_cast<double>(peakKb - rssBeforeKb) / 1024.0);
  std::printf("INFO steady RSS of the 10k-pod cache: %.1f MB\n",
              static_cast<double>(rssAfterKb - rssBeforeKb) / 1024.0);

  // Where the sync time goes (after the RSS figures, so its garbage does not skew them): one
  // plain LIST (server work + transfer + JSON parse).
  {
    auto listStart = Clock::now();
    auto listed = client.list(resources::kPods, kNamespace);
    double listMs = std::chrono::duration<double, std::milli>(Clock::now() - listStart).count();
    if (listed) {
      auto dumpStart = Clock::now();
      size_t bytes = listed->dump().size();
      double dumpMs = std::chrono::duration<double, std::milli>(Clock::now() - dumpStart).count();
      std::printf(
          "INFO one LIST of %d pods: %.0f ms, %.1f MB of JSON (re-serialising it takes %.0f ms)\n",
          kPods, listMs, static_cast<double>(bytes) / 1e6, dumpMs);
    }
  }

  // Phase 2: latency at a paced 1,000 writes/s. Each write is a merge patch carrying the
  // steady-clock time taken just before the request is sent; the informer's update handler
  // subtracts it. So the figure is request send -> server write -> watch -> decode -> callback.
  constexpr int kRate = 1000;
  constexpr int kSeconds = 5;
  constexpr int kPacedWriters = 4;
  measuring = true;
  int64_t receivedBefore = received;
  auto pacedStart = Clock::now() + 50ms;
  std::atomic<int> sent{0};
  writers.clear();
  for (int w = 0; w < kPacedWriters; ++w) {
    writers.emplace_back([&, w] {
      // Writer w sends events w, w+4, ... on an absolute schedule, so slow requests do not
      // lower the offered rate (up to the writer's capacity).
      for (int i = w; i < kRate * kSeconds; i += kPacedWriters) {
        std::this_thread::sleep_until(pacedStart +
                                      std::chrono::microseconds(i * 1'000'000 / kRate));
        json patch = {
            {"metadata", {{"annotations", {{kSentAnnotation, std::to_string(nowNs())}}}}}};
        auto patched = client.patchMerge(resources::kPods, kNamespace,
                                         "pod-" + std::to_string(i % kPods), patch);
        if (patched) ++sent;
      }
    });
  }
  for (auto& writer : writers) writer.join();
  double pacedSeconds = std::chrono::duration<double>(Clock::now() - pacedStart).count();
  waitUntil([&] { return received - receivedBefore >= sent; }, 10s);
  measuring = false;
  {
    std::lock_guard lock(latencyMutex);
    std::printf("BENCH kube.watch_latency_p50_ms=%.2f\n", percentile(latencies, 50));
    std::printf("BENCH kube.watch_latency_p99_ms=%.2f\n", percentile(latencies, 99));
    std::printf(
        "INFO paced phase: %d writes offered at %d/s, %d sent in %.2f s, %zu latencies measured\n",
        kRate * kSeconds, kRate, sent.load(), pacedSeconds, latencies.size());
  }

  // Phase 3: throughput. Writers patch as fast as they can; the rate is what the informer's
  // callbacks saw, from the first to the last event.
  constexpr int kBurst = 10'000;
  std::atomic<int64_t> firstNs{0}, lastNs{0};
  std::atomic<int> burstSeen{0};
  int64_t burstBase = received;
  std::thread watcherClock([&] {
    waitUntil([&] { return received > burstBase; }, 30s);
    firstNs = nowNs();
  });
  writers.clear();
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < kBurst; i += kWriters) {
        json patch = {{"metadata", {{"labels", {{"burst", std::to_string(i)}}}}}};
        (void)client.patchMerge(resources::kPods, kNamespace, "pod-" + std::to_string(i % kPods),
                                patch);
      }
    });
  }
  for (auto& writer : writers) writer.join();
  bool all = waitUntil([&] { return received - burstBase >= kBurst; }, 60s);
  lastNs = nowNs();
  watcherClock.join();
  burstSeen = static_cast<int>(received - burstBase);
  double burstSeconds = static_cast<double>(lastNs - firstNs) / 1e9;
  std::printf("BENCH kube.watch_events_per_s=%.0f\n", burstSeen / burstSeconds);
  std::printf("INFO burst phase: %d events over %.2f s (%s), %d writer connections\n",
              burstSeen.load(), burstSeconds, all ? "all received" : "INCOMPLETE", kWriters);
  informer.stop();
  return 0;
}

}  // namespace

int main() { return run(); }
