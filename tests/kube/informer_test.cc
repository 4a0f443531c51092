// Unit tests of watch decoding in Client::watch and of the informer's relist logic, over a
// scripted fake Transport.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "kube/informer.h"

namespace sluice::kube {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class FakeTransport : public Transport {
 public:
  using SendHandler = std::function<HttpResponse(const HttpRequest&)>;
  using StreamHandler =
      std::function<HttpResponse(int call, const HttpRequest&,
                                 const std::function<void(std::string_view)>&, StreamCanceller&)>;
  FakeTransport(SendHandler send, StreamHandler stream)
      : send_(std::move(send)), stream_(std::move(stream)) {}
  Result<HttpResponse> send(const HttpRequest& request) override {
    std::lock_guard lock(mutex_);
    requests_.push_back(request.method + " " + request.target);
    return send_(request);
  }
  Result<HttpResponse> stream(const HttpRequest& request,
                              const std::function<void(std::string_view)>& onLine,
                              StreamCanceller& canceller) override {
    int call;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back("WATCH " + request.target);
      call = streamCalls_++;
    }
    return stream_(call, request, onLine, canceller);
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> requests_;
  SendHandler send_;
  StreamHandler stream_;
  int streamCalls_ = 0;
};

// Blocks like an idle watch until the canceller fires.
HttpResponse idleUntilCancelled(StreamCanceller& canceller) {
  std::mutex mutex;
  std::condition_variable cv;
  bool cancelled = false;
  canceller.setHook([&] {
    std::lock_guard lock(mutex);
    cancelled = true;
    cv.notify_all();
  });
  // Checked outside `mutex`: the hook holds the canceller's lock while it takes `mutex`.
  bool already = canceller.cancelled();
  std::unique_lock lock(mutex);
  cv.wait(lock, [&] { return cancelled || already; });
  lock.unlock();
  canceller.clearHook();
  return HttpResponse{200, ""};
}

std::string event(const char* type, const std::string& name, int version) {
  return json{
      {"type", type},
      {"object",
       {{"metadata",
         {{"name", name}, {"namespace", "ns"}, {"resourceVersion", std::to_string(version)}}}}}}
      .dump();
}

json list(const std::vector<std::pair<std::string, int>>& items, int version) {
  json out = {{"kind", "PodList"},
              {"metadata", {{"resourceVersion", std::to_string(version)}}},
              {"items", json::array()}};
  for (const auto& [name, itemVersion] : items) {
    out["items"].push_back({{"metadata",
                             {{"name", name},
                              {"namespace", "ns"},
                              {"resourceVersion", std::to_string(itemVersion)}}}});
  }
  return out;
}

TEST_CASE(
    "watch: an ERROR event ends the stream with its code; the caller's canceller stays usable",
    "[unit]") {
  auto transport = std::make_unique<FakeTransport>(
      [](const HttpRequest&) {
        return HttpResponse{200, "{}"};
      },
      [](int, const HttpRequest&, const std::function<void(std::string_view)>& onLine,
         StreamCanceller& canceller) {
        onLine(event("ADDED", "a", 5));
        onLine(
            R"json({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})json");
        // A real server would close here; a misbehaving one keeps talking, which must be ignored.
        if (!canceller.cancelled()) onLine(event("ADDED", "b", 6));
        return HttpResponse{200, ""};
      });
  Client client(std::move(transport));
  StreamCanceller canceller;
  std::vector<std::string> seen;
  auto end = client.watch(
      resources::kPods, "ns", {}, [&](WatchEvent&& e) { seen.push_back(nameOf(e.object)); },
      canceller);
  REQUIRE(end.ok());
  CHECK(end->errorCode == 410);
  CHECK(end->errorMessage == "too old");
  CHECK(seen == std::vector<std::string>{"a"});
  CHECK_FALSE(canceller.cancelled());
}

TEST_CASE("watch: an HTTP error status is reported as the end's code", "[unit]") {
  Client client(std::make_unique<FakeTransport>(
      [](const HttpRequest&) {
        return HttpResponse{200, "{}"};
      },
      [](int, const HttpRequest&, const std::function<void(std::string_view)>&, StreamCanceller&) {
        return HttpResponse{
            410, R"({"kind":"Status","code":410,"reason":"Expired","message":"too old"})"};
      }));
  StreamCanceller canceller;
  auto end = client.watch(
      resources::kPods, "ns", {}, [](WatchEvent&&) {}, canceller);
  REQUIRE(end.ok());
  CHECK(end->errorCode == 410);
}

TEST_CASE("client: API errors carry code and reason", "[unit]") {
  Client client(std::make_unique<FakeTransport>(
      [](const HttpRequest& request) {
        if (request.method == "GET") {
          return HttpResponse{
              404,
              R"({"kind":"Status","code":404,"reason":"NotFound","message":"pods \"x\" not found"})"};
        }
        return HttpResponse{
            409, R"({"kind":"Status","code":409,"reason":"AlreadyExists","message":"exists"})"};
      },
      nullptr));
  auto missing = client.get(resources::kPods, "ns", "x");
  CHECK(missing.notFound());
  CHECK(missing.reason() == "NotFound");
  CHECK(missing.error().message ==
        "get Pod ns/x: GET /api/v1/namespaces/ns/pods/x: HTTP 404 NotFound: pods \"x\" not found");
  auto exists = client.create(resources::kPods, "ns", json{{"metadata", {{"name", "x"}}}});
  CHECK(exists.alreadyExists());
}

TEST_CASE("informer: a 410 relists and reports what changed while it was not watching", "[unit]") {
  // Runs on the informer's thread, where Catch assertions are not allowed.
  std::atomic<int> lists{0};
  std::atomic<bool> wrongTarget{false};
  auto transport = std::make_unique<FakeTransport>(
      [&](const HttpRequest& request) {
        if (request.target.rfind("/api/v1/namespaces/ns/pods", 0) != 0) wrongTarget = true;
        ++lists;
        if (lists == 1) return HttpResponse{200, list({{"a", 3}, {"b", 4}}, 10).dump()};
        return HttpResponse{200, list({{"b", 12}, {"c", 15}}, 20).dump()};
      },
      [](int call, const HttpRequest&, const std::function<void(std::string_view)>& onLine,
         StreamCanceller& canceller) {
        if (call == 0) {
          onLine(event("ADDED", "d", 11));
          onLine(json{{"type", "BOOKMARK"}, {"object", {{"metadata", {{"resourceVersion", "13"}}}}}}
                     .dump());
          onLine(
              R"json({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})json");
          return HttpResponse{200, ""};
        }
        return idleUntilCancelled(canceller);
      });
  FakeTransport* fake = transport.get();
  Client client(std::move(transport));
  Informer informer(client,
                    InformerOptions{.resource = resources::kPods, .ns = "ns", .pageSize = 0});
  std::mutex mutex;
  std::vector<std::string> calls;
  auto push = [&](std::string call) {
    std::lock_guard lock(mutex);
    calls.push_back(std::move(call));
  };
  informer.addHandlers(
      EventHandlers{.onAdd = [&](const ObjectPtr& o) { push("ADD " + nameOf(*o)); },
                    .onUpdate =
                        [&](const ObjectPtr& old, const ObjectPtr& o) {
                          push("UPDATE " + nameOf(*o) + " " + resourceVersionOf(*old) + "->" +
                               resourceVersionOf(*o));
                        },
                    .onDelete = [&](const ObjectPtr& o) { push("DELETE " + nameOf(*o)); }});
  informer.start();
  REQUIRE(informer.waitForSync(5s));
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (informer.stats().relistsAfterGone < 1 || fake->snapshot().size() < 4) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(1ms);  // polling, with a deadline
  }
  informer.stop();
  CHECK_FALSE(wrongTarget);
  std::lock_guard lock(mutex);
  CHECK(calls == std::vector<std::string>{"ADD a", "ADD b", "ADD d", "DELETE a", "DELETE d",
                                          "ADD c", "UPDATE b 4->12"});
  auto requests = fake->snapshot();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0] == "GET /api/v1/namespaces/ns/pods");
  CHECK(requests[1] ==
        "WATCH "
        "/api/v1/namespaces/ns/"
        "pods?resourceVersion=10&timeoutSeconds=300&watch=true&allowWatchBookmarks=true");
  // After the relist, the watch resumes from the new list's resourceVersion.
  CHECK(requests[3] ==
        "WATCH "
        "/api/v1/namespaces/ns/"
        "pods?resourceVersion=20&timeoutSeconds=300&watch=true&allowWatchBookmarks=true");
  CHECK(informer.lastResourceVersion() == "20");
  CHECK(informer.size() == 2);
  REQUIRE(informer.get("ns/c") != nullptr);
  CHECK((*informer.get("ns/c"))["kind"] == "Pod");
  CHECK((*informer.get("ns/c"))["apiVersion"] == "v1");
}

}  // namespace
}  // namespace sluice::kube
