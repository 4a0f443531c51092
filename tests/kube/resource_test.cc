// Unit tests for API paths, merge patches, timestamps, watch-event decoding, Lease and Event
// encoding.
#include <catch2/catch.hpp>

#include "kube/client.h"
#include "kube/event_recorder.h"
#include "kube/leader_election.h"
#include "kube/resource.h"

namespace sluice::kube {
namespace {

using nlohmann::json;

TEST_CASE("paths: core, grouped, namespaced and cluster-scoped resources", "[unit]") {
  CHECK(collectionPath(resources::kPods, "default") == "/api/v1/namespaces/default/pods");
  CHECK(collectionPath(resources::kPods, "") == "/api/v1/pods");
  CHECK(objectPath(resources::kPods, "ns", "web-0", "status") ==
        "/api/v1/namespaces/ns/pods/web-0/status");
  CHECK(objectPath(resources::kNodes, "ignored", "node-1") == "/api/v1/nodes/node-1");
  CHECK(objectPath(resources::kLeases, "kube-system", "sluice") ==
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/sluice");
  CHECK(objectPath(resources::kEgresses, "", "egress-a", "status") ==
        "/apis/crd.antrea.io/v1beta1/egresses/egress-a/status");
  CHECK(collectionPath(resources::kExternalIpPools, "") ==
        "/apis/crd.antrea.io/v1beta1/externalippools");
  CHECK(resources::kEgresses.apiVersion() == "crd.antrea.io/v1beta1");
  CHECK(resources::kPods.apiVersion() == "v1");
}

TEST_CASE("query strings encode selectors and watch parameters", "[unit]") {
  CHECK(listQuery({}, false).empty());
  ListOptions options;
  options.labelSelector = "app in (a,b),!c";
  options.fieldSelector = "spec.nodeName=node-1";
  options.resourceVersion = "42";
  options.allowWatchBookmarks = true;
  options.timeoutSeconds = 300;
  CHECK(listQuery(options, true) ==
        "?labelSelector=app%20in%20%28a%2Cb%29%2C%21c&fieldSelector=spec.nodeName%3Dnode-1&"
        "resourceVersion=42"
        "&timeoutSeconds=300&watch=true&allowWatchBookmarks=true");
  options = {};
  options.limit = 500;
  options.continueToken = "abc=";
  CHECK(listQuery(options, false) == "?limit=500&continue=abc%3D");
}

TEST_CASE("keys: namespace/name, or name for cluster-scoped objects", "[unit]") {
  CHECK(keyOf(json::parse(R"({"metadata": {"namespace": "ns", "name": "a"}})")) == "ns/a");
  CHECK(keyOf(json::parse(R"({"metadata": {"name": "node-1"}})")) == "node-1");
  CHECK(splitKey("ns/a") == std::make_pair(std::string("ns"), std::string("a")));
  CHECK(splitKey("node-1") == std::make_pair(std::string(), std::string("node-1")));
}

TEST_CASE("merge patch: RFC 7386 diff and apply round trip", "[unit]") {
  json from = json::parse(
      R"({"egressNode": "a", "egressIP": "10.0.0.1", "conditions": [{"type": "IPAssigned"}],
                               "nested": {"keep": 1, "drop": 2}})");
  json to =
      json::parse(R"({"egressNode": "b", "conditions": [], "nested": {"keep": 1, "add": 3}})");
  json patch = createMergePatch(from, to);
  CHECK(patch == json::parse(R"({"egressNode": "b", "egressIP": null, "conditions": [],
                                  "nested": {"drop": null, "add": 3}})"));
  CHECK(applyMergePatch(from, patch) == to);
  CHECK(createMergePatch(to, to) == json::object());
}

TEST_CASE("timestamps: RFC 3339 and MicroTime", "[unit]") {
  auto time = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)) +
              std::chrono::microseconds(123'456);
  CHECK(formatTime(time) == "2023-11-14T22:13:20Z");
  CHECK(formatMicroTime(time) == "2023-11-14T22:13:20.123456Z");
  CHECK(parseTime("2023-11-14T22:13:20.123456Z") == time);
  CHECK(parseTime("2023-11-14T22:13:20Z") ==
        std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)));
  CHECK(parseTime("2023-11-14T23:13:20+01:00") ==
        std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)));
  CHECK(parseTime("2023-11-14T22:13:20.5Z") ==
        std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)) +
            std::chrono::milliseconds(500));
  CHECK_FALSE(parseTime("yesterday").has_value());
  CHECK_FALSE(parseTime("2023-11-14T22:13:20").has_value());
}

// Regression (fuzz_kube_objects): year 9999 overflowed system_clock's nanoseconds (UB).
TEST_CASE("fuzz regression: timestamps outside system_clock's range or fields are rejected",
          "[unit]") {
  CHECK_FALSE(parseTime("9999-01-01T00:00:00Z"));
  CHECK_FALSE(parseTime("0001-01-01T00:00:00Z"));
  CHECK_FALSE(parseTime("2026-13-01T00:00:00Z"));
  CHECK_FALSE(parseTime("2026-01-01T24:00:00Z"));
  CHECK_FALSE(parseTime("2026-01-01T00:00:00+99:00"));
  CHECK(parseTime("2261-12-31T23:59:59Z"));
  CHECK(parseTime("2026-01-01T00:00:00+02:00"));
}

TEST_CASE("watch events: types, objects and ERROR status codes", "[unit]") {
  auto added = parseWatchEvent(
      R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"7"}}})");
  REQUIRE(added.ok());
  CHECK(added->type == WatchEventType::kAdded);
  CHECK(resourceVersionOf(added->object) == "7");
  auto bookmark = parseWatchEvent(
      R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}})");
  REQUIRE(bookmark.ok());
  CHECK(bookmark->type == WatchEventType::kBookmark);
  auto deleted = parseWatchEvent(R"({"type":"DELETED","object":{"metadata":{"name":"a"}}})");
  REQUIRE(deleted.ok());
  CHECK(deleted->type == WatchEventType::kDeleted);
  auto gone = parseWatchEvent(
      R"json({"type":"ERROR","object":{"kind":"Status","status":"Failure","reason":"Expired","code":410,
          "message":"too old resource version: 1 (5)"}})json");
  REQUIRE(gone.ok());
  CHECK(gone->type == WatchEventType::kError);
  CHECK(statusCodeOf(*gone) == 410);
  CHECK_FALSE(parseWatchEvent("not json").ok());
  CHECK_FALSE(parseWatchEvent(R"({"type":"EXPLODED","object":{}})").ok());
  CHECK_FALSE(parseWatchEvent(R"({"type":"ADDED"})").ok());
}

TEST_CASE("lease: decode and encode the spec", "[unit]") {
  json lease =
      json::parse(R"({"spec": {"holderIdentity": "controller-1", "leaseDurationSeconds": 15,
      "acquireTime": "2023-11-14T22:13:20.000000Z", "renewTime": "2023-11-14T22:13:25.250000Z",
      "leaseTransitions": 3}})");
  LeaseRecord record = decodeLease(lease);
  CHECK(record.holderIdentity == "controller-1");
  CHECK(record.leaseDurationSeconds == 15);
  CHECK(record.leaseTransitions == 3);
  REQUIRE(record.renewTime.has_value());
  REQUIRE(record.acquireTime.has_value());
  CHECK(*record.renewTime - *record.acquireTime == std::chrono::milliseconds(5250));
  CHECK(encodeLeaseSpec(record) == lease["spec"]);
  CHECK(decodeLease(json::object()).holderIdentity.empty());
}

TEST_CASE("events: involvedObject, counts and timestamps; cluster-scoped go to default", "[unit]") {
  json egress = json::parse(R"({"apiVersion": "crd.antrea.io/v1beta1", "kind": "Egress",
      "metadata": {"name": "egress-a", "uid": "u-1", "resourceVersion": "5"}})");
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  json event = makeEvent(
      egress, EventType::kWarning, "NoIPAvailable", "pool exhausted",
      EventRecorderOptions{
          .component = "sluice-controller", .host = "", .clusterScopedNamespace = "default"},
      now);
  CHECK(event["metadata"]["namespace"] == "default");
  CHECK(event["metadata"]["name"].get<std::string>().rfind("egress-a.", 0) == 0);
  CHECK(event["involvedObject"] ==
        json::parse(R"({"kind": "Egress", "apiVersion": "crd.antrea.io/v1beta1",
      "name": "egress-a", "uid": "u-1", "resourceVersion": "5"})"));
  CHECK(event["type"] == "Warning");
  CHECK(event["reason"] == "NoIPAvailable");
  CHECK(event["count"] == 1);
  CHECK(event["firstTimestamp"] == "2023-11-14T22:13:20Z");
  CHECK(event["lastTimestamp"] == event["firstTimestamp"]);
  CHECK(event["source"]["component"] == "sluice-controller");
  json pod = json::parse(
      R"({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "ns"}})");
  CHECK(makeEvent(pod, EventType::kNormal, "R", "m", {}, now)["metadata"]["namespace"] == "ns");
}

}  // namespace
}  // namespace sluice::kube
