// [apiserver] tests: the client, informers, status updates, events and leader election against
// the lab API server (tools/apiserver), started per test.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "apiserver_fixture.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "kube/service_cidr.h"
#include "kube/work_queue.h"

namespace sluice::kube {
namespace {

using nlohmann::json;
using testing::ApiServer;
using testing::ApiServerOptions;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Polls `condition` until it holds or `timeout` passes.
bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);  // polling a condition, with a deadline
  }
  return true;
}

std::unique_ptr<ApiServer> startServer(ApiServerOptions options = {}) {
  auto server = ApiServer::start(options);
  if (!server) FAIL(server.error().message);
  return std::move(*server);
}

std::unique_ptr<Client> clientOf(const ApiServer& server) {
  auto client = server.client();
  if (!client) FAIL(client.error().message);
  return std::move(*client);
}

json pod(const std::string& ns, const std::string& name,
         const std::map<std::string, std::string>& labels = {}) {
  json object = {{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata", {{"name", name}, {"namespace", ns}}},
                 {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}};
  if (!labels.empty()) object["metadata"]["labels"] = labels;
  return object;
}

// Records handler calls as "ADD a", "UPDATE a", "DELETE a".
struct Recorder {
  std::mutex mutex;
  std::vector<std::string> calls;
  EventHandlers handlers() {
    return EventHandlers{
        .onAdd = [this](const ObjectPtr& object) { push("ADD " + keyOf(*object)); },
        .onUpdate = [this](const ObjectPtr&,
                           const ObjectPtr& object) { push("UPDATE " + keyOf(*object)); },
        .onDelete = [this](const ObjectPtr& object) { push("DELETE " + keyOf(*object)); },
    };
  }
  void push(std::string call) {
    std::lock_guard lock(mutex);
    calls.push_back(std::move(call));
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mutex);
    return calls;
  }
  size_t count(const std::string& prefix) {
    std::lock_guard lock(mutex);
    return static_cast<size_t>(
        std::count_if(calls.begin(), calls.end(),
                      [&](const std::string& call) { return call.rfind(prefix, 0) == 0; }));
  }
};

// Wraps the real transport so a test can cut the watch stream and hold back the re-watch (to make
// writes happen while the informer is disconnected).
class GatedTransport : public Transport {
 public:
  explicit GatedTransport(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
  Result<HttpResponse> send(const HttpRequest& request) override { return inner_->send(request); }
  Result<HttpResponse> stream(const HttpRequest& request,
                              const std::function<void(std::string_view)>& onLine,
                              StreamCanceller& canceller) override {
    StreamCanceller inner;
    bool stopRequested = false;
    // Lock order: the canceller's lock, then mutex_ (the hook runs under the canceller's lock).
    canceller.setHook([this, &inner, &stopRequested] {
      {
        std::lock_guard lock(mutex_);
        stopRequested = true;
      }
      gateCv_.notify_all();
      inner.cancel();
    });
    bool already = canceller.cancelled();
    {
      std::unique_lock lock(mutex_);
      gateCv_.wait(lock, [&] { return open_ || stopRequested || already; });
      current_ = &inner;
      ++streams_;
    }
    auto result = inner_->stream(request, onLine, inner);
    {
      std::lock_guard lock(mutex_);
      current_ = nullptr;
    }
    canceller.clearHook();
    return result;
  }
  // Closes the gate and ends the current stream, as a dropped connection would.
  void disconnect() {
    std::lock_guard lock(mutex_);
    open_ = false;
    if (current_ != nullptr) current_->cancel();
  }
  void reconnect() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    gateCv_.notify_all();
  }
  int streams() {
    std::lock_guard lock(mutex_);
    return streams_;
  }
  bool connected() {
    std::lock_guard lock(mutex_);
    return current_ != nullptr;
  }

 private:
  std::unique_ptr<Transport> inner_;
  std::mutex mutex_;
  std::condition_variable gateCv_;
  bool open_ = true;
  StreamCanceller* current_ = nullptr;
  int streams_ = 0;
};

TEST_CASE("client: create, get, list, update, patch and delete a pod", "[apiserver]") {
  auto server = startServer();
  auto client = clientOf(*server);
  REQUIRE(testing::ensureNamespace(*client, "crud").ok());
  auto created = client->create(resources::kPods, "crud", pod("crud", "a", {{"app", "web"}}));
  REQUIRE(created.ok());
  CHECK(!resourceVersionOf(*created).empty());
  CHECK(!uidOf(*created).empty());
  auto again = client->create(resources::kPods, "crud", pod("crud", "a"));
  CHECK(again.alreadyExists());

  auto got = client->get(resources::kPods, "crud", "a");
  REQUIRE(got.ok());
  CHECK((*got)["metadata"]["labels"]["app"] == "web");
  auto missing = client->get(resources::kPods, "crud", "nope");
  CHECK(missing.notFound());
  CHECK(missing.error().message.find("Pod crud/nope") != std::string::npos);

  REQUIRE(client->create(resources::kPods, "crud", pod("crud", "b", {{"app", "db"}})).ok());
  ListOptions byLabel;
  byLabel.labelSelector = "app=web";
  auto listed = client->list(resources::kPods, "crud", byLabel);
  REQUIRE(listed.ok());
  REQUIRE((*listed)["items"].size() == 1);
  CHECK(nameOf((*listed)["items"][0]) == "a");
  ListOptions byField;
  byField.fieldSelector = "metadata.name=b";
  auto fielded = client->list(resources::kPods, "crud", byField);
  REQUIRE(fielded.ok());
  REQUIRE((*fielded)["items"].size() == 1);
  CHECK(nameOf((*fielded)["items"][0]) == "b");

  json stale = *got;
  json changed = *got;
  changed["metadata"]["labels"]["tier"] = "front";
  auto updated = client->update(resources::kPods, changed);
  REQUIRE(updated.ok());
  stale["metadata"]["labels"]["tier"] = "back";
  auto conflict = client->update(resources::kPods, stale);
  CHECK(conflict.conflict());

  auto patched = client->patchMerge(resources::kPods, "crud", "a",
                                    json{{"metadata", {{"labels", {{"app", nullptr}}}}}});
  REQUIRE(patched.ok());
  CHECK_FALSE((*patched)["metadata"]["labels"].contains("app"));
  CHECK((*patched)["metadata"]["labels"]["tier"] == "front");

  REQUIRE(client->remove(resources::kPods, "crud", "a").ok());
  CHECK(client->get(resources::kPods, "crud", "a").notFound());
  CHECK(client->remove(resources::kPods, "crud", "a").notFound());
}

TEST_CASE("transport: wrong CA and wrong token are refused", "[apiserver]") {
  auto server = startServer();
  auto other = startServer();
  auto config = server->config();
  REQUIRE(config.ok());
  auto otherConfig = other->config();
  REQUIRE(otherConfig.ok());

  ClusterConfig wrongCa = *config;
  wrongCa.caPem = otherConfig->caPem;
  auto client = Client::connect(wrongCa);
  REQUIRE(client.ok());
  auto refused = (*client)->list(resources::kNamespaces, "");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.code() == 0);
  CHECK(refused.error().message.find("TLS handshake") != std::string::npos);

  ClusterConfig wrongToken = *config;
  wrongToken.token = "not-the-token";
  auto unauthorized = Client::connect(wrongToken);
  REQUIRE(unauthorized.ok());
  CHECK((*unauthorized)->list(resources::kNamespaces, "").code() == 401);

  auto good = Client::connect(*config);
  REQUIRE(good.ok());
  CHECK((*good)->list(resources::kNamespaces, "").ok());

  // By name: the certificate's DNS name is checked (and SNI sent) instead of its IP address.
  ClusterConfig byName = *config;
  byName.server = "https://localhost:" + std::to_string(server->port());
  auto named = Client::connect(byName);
  REQUIRE(named.ok());
  CHECK((*named)->list(resources::kNamespaces, "").ok());
}

TEST_CASE("informer: adds, updates and deletes arrive in order", "[apiserver]") {
  auto server = startServer();
  auto client = clientOf(*server);
  REQUIRE(testing::ensureNamespace(*client, "order").ok());
  REQUIRE(client->create(resources::kPods, "order", pod("order", "existing")).ok());

  Informer informer(*client, InformerOptions{.resource = resources::kPods, .ns = "order"});
  Recorder recorder;
  informer.addHandlers(recorder.handlers());
  informer.start();
  REQUIRE(informer.waitForSync(10s));
  CHECK(informer.hasSynced());
  CHECK(recorder.snapshot() == std::vector<std::string>{"ADD order/existing"});

  REQUIRE(client->create(resources::kPods, "order", pod("order", "a")).ok());
  REQUIRE(client
              ->patchMerge(resources::kPods, "order", "a",
                           json{{"metadata", {{"labels", {{"x", "1"}}}}}})
              .ok());
  REQUIRE(client->remove(resources::kPods, "order", "existing").ok());
  REQUIRE(client
              ->patchMerge(resources::kPods, "order", "a",
                           json{{"metadata", {{"labels", {{"x", "2"}}}}}})
              .ok());
  REQUIRE(client->remove(resources::kPods, "order", "a").ok());
  REQUIRE(waitUntil([&] { return recorder.snapshot().size() == 6; }));
  CHECK(recorder.snapshot() == std::vector<std::string>{"ADD order/existing", "ADD order/a",
                                                        "UPDATE order/a", "DELETE order/existing",
                                                        "UPDATE order/a", "DELETE order/a"});
  CHECK(informer.size() == 0);
  informer.stop();
}

TEST_CASE("informer: label and field selectors filter, and leaving the selection is a delete",
          "[apiserver]") {
  auto server = startServer();
  auto client = clientOf(*server);
  REQUIRE(testing::ensureNamespace(*client, "sel").ok());
  Informer byLabel(
      *client,
      InformerOptions{.resource = resources::kPods, .ns = "sel", .labelSelector = "app=web"});
  Informer byField(
      *client,
      InformerOptions{.resource = resources::kPods, .ns = "", .fieldSelector = "metadata.name=b"});
  Recorder labelRecorder, fieldRecorder;
  byLabel.addHandlers(labelRecorder.handlers());
  byField.addHandlers(fieldRecorder.handlers());
  byLabel.start();
  byField.start();
  REQUIRE(byLabel.waitForSync(10s));
  REQUIRE(byField.waitForSync(10s));
  REQUIRE(client->create(resources::kPods, "sel", pod("sel", "a", {{"app", "web"}})).ok());
  REQUIRE(client->create(resources::kPods, "sel", pod("sel", "b", {{"app", "db"}})).ok());
  REQUIRE(client
              ->patchMerge(resources::kPods, "sel", "a",
                           json{{"metadata", {{"labels", {{"app", "db"}}}}}})
              .ok());
  REQUIRE(waitUntil([&] {
    return labelRecorder.snapshot().size() == 2 && fieldRecorder.snapshot().size() == 1;
  }));
  CHECK(labelRecorder.snapshot() == std::vector<std::string>{"ADD sel/a", "DELETE sel/a"});
  CHECK(fieldRecorder.snapshot() == std::vector<std::string>{"ADD sel/b"});
}

TEST_CASE("informer: relists after 410 Gone when writes happened while disconnected",
          "[apiserver]") {
  auto server = startServer(ApiServerOptions{.persistent = false, .watchCacheSize = 5});
  auto config = server->config();
  REQUIRE(config.ok());
  auto transport = makeHttpTransport(*config);
  REQUIRE(transport.ok());
  auto gated = new GatedTransport(std::move(*transport));
  Client watchClient{std::unique_ptr<Transport>(gated)};
  auto client = clientOf(*server);
  REQUIRE(testing::ensureNamespace(*client, "gone").ok());
  for (int i = 0; i < 5; ++i)
    REQUIRE(client->create(resources::kPods, "gone", pod("gone", "old-" + std::to_string(i))).ok());

  Informer informer(
      watchClient,
      InformerOptions{.resource = resources::kPods,
                      .ns = "gone",
                      .backoff = {.initial = 10ms, .max = 200ms, .factor = 2, .jitter = 0}});
  Recorder recorder;
  informer.addHandlers(recorder.handlers());
  informer.start();
  REQUIRE(informer.waitForSync(10s));
  REQUIRE(waitUntil([&] { return gated->connected(); }));

  gated->disconnect();
  REQUIRE(waitUntil([&] { return !gated->connected(); }));
  // Far more writes than the server's 5-event history: the informer's resourceVersion expires.
  for (int i = 0; i < 5; ++i)
    REQUIRE(client->remove(resources::kPods, "gone", "old-" + std::to_string(i)).ok());
  for (int i = 0; i < 20; ++i)
    REQUIRE(client->create(resources::kPods, "gone", pod("gone", "new-" + std::to_string(i))).ok());
  gated->reconnect();

  // Handlers run after the store is updated: wait for them, not just for the store.
  REQUIRE(waitUntil([&] {
    return informer.stats().relistsAfterGone >= 1 && recorder.count("ADD gone/new-") == 20 &&
           recorder.count("DELETE gone/old-") == 5;
  }));
  CHECK(informer.size() == 20);
  CHECK(informer.get("gone/old-0") == nullptr);
  CHECK(informer.get("gone/new-19") != nullptr);
  CHECK(recorder.count("DELETE gone/old-") == 5);
  CHECK(recorder.count("ADD gone/new-") == 20);
  // And it keeps watching after the relist.
  REQUIRE(client->create(resources::kPods, "gone", pod("gone", "after")).ok());
  REQUIRE(waitUntil([&] { return informer.get("gone/after") != nullptr; }));
  informer.stop();
}

TEST_CASE("informer: survives an API server restart on the same data", "[apiserver]") {
  auto server = startServer(ApiServerOptions{.persistent = true, .watchCacheSize = 0});
  auto client = clientOf(*server);
  REQUIRE(testing::ensureNamespace(*client, "restart").ok());
  REQUIRE(client->create(resources::kPods, "restart", pod("restart", "a")).ok());
  REQUIRE(client->create(resources::kPods, "restart", pod("restart", "b")).ok());
  Informer informer(
      *client,
      InformerOptions{.resource = resources::kPods,
                      .ns = "restart",
                      .backoff = {.initial = 20ms, .max = 500ms, .factor = 2, .jitter = 0}});
  Recorder recorder;
  informer.addHandlers(recorder.handlers());
  informer.start();
  REQUIRE(informer.waitForSync(10s));
  CHECK(informer.size() == 2);

  auto restarted = server->restart();
  REQUIRE(restarted.ok());
  // The kubeconfig (CA, token) must still be valid for the same client.
  auto client2 = clientOf(*server);
  REQUIRE(client2->get(resources::kPods, "restart", "a").ok());
  REQUIRE(client2->remove(resources::kPods, "restart", "a").ok());
  REQUIRE(client2->create(resources::kPods, "restart", pod("restart", "c")).ok());
  REQUIRE(waitUntil(
      [&] {
        return recorder.count("ADD restart/c") == 1 && recorder.count("DELETE restart/a") == 1;
      },
      20s));
  CHECK(informer.get("restart/a") == nullptr);
  CHECK(informer.size() == 2);
  CHECK(recorder.count("DELETE restart/a") == 1);
  CHECK(recorder.count("ADD restart/c") == 1);
  informer.stop();
}

TEST_CASE("informer: watches 1,000 objects and a second informer lists them in pages",
          "[apiserver]") {
  auto server = startServer();
  auto client = clientOf(*server);
  REQUIRE(testing::ensureNamespace(*client, "many").ok());
  Informer informer(*client, InformerOptions{.resource = resources::kPods, .ns = "many"});
  Recorder recorder;
  informer.addHandlers(recorder.handlers());
  informer.start();
  REQUIRE(informer.waitForSync(10s));
  constexpr int kObjects = 1000;
  constexpr int kWriters = 4;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < kObjects; i += kWriters) {
        if (!client->create(resources::kPods, "many", pod("many", "p-" + std::to_string(i))).ok())
          ++failures;
      }
    });
  }
  for (auto& writer : writers) writer.join();
  CHECK(failures == 0);
  REQUIRE(waitUntil([&] { return recorder.count("ADD many/") == kObjects; }, 30s));
  CHECK(informer.size() == kObjects);

  Informer paged(*client,
                 InformerOptions{.resource = resources::kPods, .ns = "many", .pageSize = 100});
  paged.start();
  REQUIRE(paged.waitForSync(20s));
  CHECK(paged.size() == kObjects);
  paged.stop();
  informer.stop();
}

TEST_CASE("work queue: informer handlers enqueue keys, a worker syncs them", "[apiserver]") {
  auto server = startServer();
  auto client = clientOf(*server);
  REQUIRE(testing::ensureNamespace(*client, "queue").ok());
  Informer informer(*client, InformerOptions{.resource = resources::kPods, .ns = "queue"});
  WorkQueue queue;
  auto enqueue = [&](const ObjectPtr& object) { queue.add(keyOf(*object)); };
  informer.addHandlers(
      EventHandlers{.onAdd = enqueue,
                    .onUpdate = [&](const ObjectPtr&, const ObjectPtr& object) { enqueue(object); },
                    .onDelete = enqueue});
  informer.start();
  REQUIRE(informer.waitForSync(10s));
  std::mutex mutex;
  std::set<std::string> present, absent;
  std::thread worker([&] {
    while (auto key = queue.get()) {
      std::lock_guard lock(mutex);
      if (informer.get(*key)) {
        present.insert(*key);
        absent.erase(*key);
      } else {
        absent.insert(*key);
        present.erase(*key);
      }
      queue.forget(*key);
      queue.done(*key);
    }
  });
  REQUIRE(client->create(resources::kPods, "queue", pod("queue", "a")).ok());
  REQUIRE(client->create(resources::kPods, "queue", pod("queue", "b")).ok());
  REQUIRE(client->remove(resources::kPods, "queue", "a").ok());
  bool converged = waitUntil([&] {
    std::lock_guard lock(mutex);
    return present == std::set<std::string>{"queue/b"} &&
           absent == std::set<std::string>{"queue/a"};
  });
  queue.shutDown();
  worker.join();
  informer.stop();
  CHECK(converged);
}

TEST_CASE("status: merge patch on /status retries on conflict", "[apiserver]") {
  auto server = startServer();
  auto client = clientOf(*server);
  REQUIRE(testing::installCrds(*client).ok());
  json egress = json::parse(R"({"apiVersion": "crd.antrea.io/v1beta1", "kind": "Egress",
      "metadata": {"name": "egress-a"},
      "spec": {"appliedTo": {"podSelector": {"matchLabels": {"app": "web"}}}, "externalIPPool": "pool-a"}})");
  auto created = client->create(resources::kEgresses, "", egress);
  REQUIRE(created.ok());
  auto first =
      client->patchStatus(resources::kEgresses, "", "egress-a",
                          json{{"status", {{"egressNode", "node-1"}, {"egressIP", "10.0.0.1"}}}});
  REQUIRE(first.ok());
  CHECK((*first)["status"]["egressNode"] == "node-1");

  int calls = 0;
  auto updated = client->mutateStatus(resources::kEgresses, "", "egress-a", [&](json& object) {
    ++calls;
    if (calls == 1) {
      // Another writer changes the object between our GET and our PATCH.
      auto racing = client->patchMerge(resources::kEgresses, "", "egress-a",
                                       json{{"metadata", {{"labels", {{"raced", "yes"}}}}}});
      REQUIRE(racing.ok());
    }
    object["status"]["egressNode"] = "node-2";
    object["status"].erase("egressIP");
    return true;
  });
  REQUIRE(updated.ok());
  CHECK(calls == 2);
  auto final = client->get(resources::kEgresses, "", "egress-a");
  REQUIRE(final.ok());
  CHECK((*final)["status"]["egressNode"] == "node-2");
  CHECK_FALSE((*final)["status"].contains("egressIP"));
  CHECK((*final)["metadata"]["labels"]["raced"] == "yes");
  CHECK((*final)["spec"]["externalIPPool"] == "pool-a");

  // A stale resourceVersion in a status patch is a conflict.
  auto stale =
      client->patchStatus(resources::kEgresses, "", "egress-a",
                          json{{"metadata", {{"resourceVersion", resourceVersionOf(*created)}}},
                               {"status", {{"egressNode", "x"}}}});
  CHECK(stale.conflict());
  // The status subresource does not change spec.
  auto sneaky = client->patchStatus(resources::kEgresses, "", "egress-a",
                                    json{{"spec", {{"externalIPPool", "other"}}}});
  REQUIRE(sneaky.ok());
  CHECK((*client->get(resources::kEgresses, "", "egress-a"))["spec"]["externalIPPool"] == "pool-a");
}

TEST_CASE("events: created with involvedObject, repeats counted", "[apiserver]") {
  auto server = startServer();
  auto client = clientOf(*server);
  REQUIRE(testing::ensureNamespace(*client, "ev").ok());
  auto created = client->create(resources::kPods, "ev", pod("ev", "a"));
  REQUIRE(created.ok());
  EventRecorder recorder(*client,
                         EventRecorderOptions{.component = "sluice-test", .host = "node-1"});
  auto event =
      recorder.record(*created, EventType::kWarning, "EgressIPUnreachable", "node-1 is down");
  REQUIRE(event.ok());
  auto repeat =
      recorder.record(*created, EventType::kWarning, "EgressIPUnreachable", "node-1 is down");
  REQUIRE(repeat.ok());
  CHECK(nameOf(*repeat) == nameOf(*event));
  auto stored = client->get(resources::kEvents, "ev", nameOf(*event));
  REQUIRE(stored.ok());
  CHECK((*stored)["count"] == 2);
  CHECK((*stored)["involvedObject"]["name"] == "a");
  CHECK((*stored)["involvedObject"]["kind"] == "Pod");
  CHECK((*stored)["involvedObject"]["uid"] == uidOf(*created));
  CHECK((*stored)["reason"] == "EgressIPUnreachable");
  CHECK((*stored)["type"] == "Warning");
  CHECK((*stored)["source"]["component"] == "sluice-test");
  auto other = recorder.record(*created, EventType::kNormal, "Assigned", "egress IP 10.0.0.1");
  REQUIRE(other.ok());
  CHECK(nameOf(*other) != nameOf(*event));
}

struct Candidate {
  Candidate(Client& client, const std::string& identity, bool releaseOnStop)
      : elector(client, LeaderElectionOptions{.leaseNamespace = "kube-system",
                                              .leaseName = "sluice-controller",
                                              .identity = identity,
                                              .leaseDuration = 1000ms,
                                              .renewDeadline = 700ms,
                                              .retryPeriod = 100ms,
                                              .onStartedLeading =
                                                  [this] {
                                                    startedAt = Clock::now();
                                                    leading = true;
                                                  },
                                              .onStoppedLeading = [this] { leading = false; },
                                              .onNewLeader = nullptr,
                                              .releaseOnStop = releaseOnStop}) {}
  std::atomic<bool> leading{false};
  std::atomic<Clock::time_point> startedAt{};
  LeaderElector elector;
};

TEST_CASE("leader election: one leader; hand-over within the lease duration when it stops renewing",
          "[apiserver]") {
  auto server = startServer();
  auto client = clientOf(*server);
  REQUIRE(testing::ensureNamespace(*client, "kube-system").ok());
  auto a = std::make_unique<Candidate>(*client, "controller-a", false);
  Candidate b(*client, "controller-b", true);
  REQUIRE(a->elector.start().ok());
  REQUIRE(waitUntil([&] { return a->leading.load(); }));
  REQUIRE(b.elector.start().ok());
  // b keeps campaigning but must not lead while a renews.
  REQUIRE(waitUntil([&] { return b.elector.observedLeader() == "controller-a"; }));
  auto stable = Clock::now() + 1500ms;
  while (Clock::now() < stable) {
    REQUIRE_FALSE(b.leading.load());
    std::this_thread::sleep_for(20ms);  // sampling the invariant over 1.5 lease durations
  }
  auto lease = client->get(resources::kLeases, "kube-system", "sluice-controller");
  REQUIRE(lease.ok());
  CHECK((*lease)["spec"]["holderIdentity"] == "controller-a");
  CHECK((*lease)["spec"]["leaseDurationSeconds"] == 1);
  int64_t transitions = (*lease)["spec"].value("leaseTransitions", 0);

  // a stops renewing without releasing (as if it hung or died).
  auto stoppedAt = Clock::now();
  a->elector.stop();
  CHECK_FALSE(a->leading.load());
  REQUIRE(waitUntil([&] { return b.leading.load(); }, 5s));
  auto handover = b.startedAt.load() - stoppedAt;
  INFO("hand-over took " << std::chrono::duration_cast<std::chrono::milliseconds>(handover).count()
                         << " ms");
  CHECK(handover <=
        1000ms + 100ms + 500ms);  // lease duration + retry period + slack for a loaded machine
  lease = client->get(resources::kLeases, "kube-system", "sluice-controller");
  REQUIRE(lease.ok());
  CHECK((*lease)["spec"]["holderIdentity"] == "controller-b");
  CHECK((*lease)["spec"]["leaseTransitions"] == transitions + 1);
  CHECK((*lease)["spec"].contains("acquireTime"));
  CHECK((*lease)["spec"].contains("renewTime"));

  // b releases on stop, so a new candidate takes over at once, not after a lease duration.
  b.elector.stop();
  lease = client->get(resources::kLeases, "kube-system", "sluice-controller");
  REQUIRE(lease.ok());
  CHECK((*lease)["spec"].value("holderIdentity", "") == "");
  Candidate c(*client, "controller-c", true);
  auto started = Clock::now();
  REQUIRE(c.elector.start().ok());
  REQUIRE(waitUntil([&] { return c.leading.load(); }, 5s));
  CHECK(Clock::now() - started < 500ms);
}

TEST_CASE("service CIDR: read from the API server's ServiceCIDR kubernetes; none when it is down",
          "[apiserver]") {
  auto server = startServer();
  auto config = server->config();
  REQUIRE(config.ok());
  const auto detected = detectServiceCidr(*config, 2s);
  INFO(detected.whyNot);
  REQUIRE(detected.cidr);
  CHECK(detected.cidr->toString() == "10.96.0.0/12");
  CHECK(chooseServiceCidr(std::nullopt, detected).describe() == "from ServiceCIDR kubernetes");
  // Down: a bounded failure with the reason, and the default.
  server->stop();
  const auto started = Clock::now();
  const auto down = detectServiceCidr(*config, 2s);
  CHECK(Clock::now() - started < 5s);
  CHECK_FALSE(down.cidr);
  CHECK_THAT(down.whyNot, Catch::Contains("ServiceCIDR kubernetes"));
  CHECK(chooseServiceCidr(std::nullopt, down).cidr.toString() == "10.96.0.0/12");
}

}  // namespace
}  // namespace sluice::kube
