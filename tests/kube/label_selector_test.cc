// Unit tests for label selectors. Cases follow the Kubernetes "Labels and Selectors" page
// (kubernetes.io/docs/concepts/overview/working-with-objects/labels): equality and set-based
// requirements, ANDed; empty selects all, null selects nothing.
#include <catch2/catch.hpp>

#include "kube/label_selector.h"

namespace sluice::kube {
namespace {

using nlohmann::json;

LabelSelector parse(const char* text) {
  auto selector = parseLabelSelector(json::parse(text), "spec.podSelector");
  REQUIRE(selector.ok());
  return *selector;
}

TEST_CASE("selector: equality requirement environment = production", "[unit]") {
  auto selector = parse(R"({"matchLabels": {"environment": "production"}})");
  CHECK(matches(selector, {{"environment", "production"}, {"tier", "frontend"}}));
  CHECK_FALSE(matches(selector, {{"environment", "qa"}}));
  CHECK_FALSE(matches(selector, {}));
  CHECK(toQueryString(selector) == "environment=production");
}

TEST_CASE("selector: 'environment=production' is the same as 'environment in (production)'",
          "[unit]") {
  auto equality = parse(R"({"matchLabels": {"environment": "production"}})");
  auto set = parse(
      R"({"matchExpressions": [{"key": "environment", "operator": "In", "values": ["production"]}]})");
  for (const Labels& labels :
       std::vector<Labels>{{{"environment", "production"}}, {{"environment", "qa"}}, {}}) {
    CHECK(matches(equality, labels) == matches(set, labels));
  }
}

TEST_CASE("selector: environment in (production, qa)", "[unit]") {
  auto selector = parse(
      R"({"matchExpressions": [{"key": "environment", "operator": "In", "values": ["qa", "production"]}]})");
  CHECK(matches(selector, {{"environment", "production"}}));
  CHECK(matches(selector, {{"environment", "qa"}}));
  CHECK_FALSE(matches(selector, {{"environment", "dev"}}));
  CHECK_FALSE(matches(selector, {{"tier", "frontend"}}));
  CHECK(toQueryString(selector) == "environment in (production,qa)");
}

TEST_CASE("selector: tier notin (frontend, backend) also selects objects without a tier label",
          "[unit]") {
  auto selector = parse(
      R"({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["frontend", "backend"]}]})");
  CHECK_FALSE(matches(selector, {{"tier", "frontend"}}));
  CHECK_FALSE(matches(selector, {{"tier", "backend"}}));
  CHECK(matches(selector, {{"tier", "cache"}}));
  CHECK(matches(selector, {{"environment", "qa"}}));
  CHECK(toQueryString(selector) == "tier notin (backend,frontend)");
}

TEST_CASE("selector: partition and !partition check only the key", "[unit]") {
  auto exists = parse(R"({"matchExpressions": [{"key": "partition", "operator": "Exists"}]})");
  auto absent =
      parse(R"({"matchExpressions": [{"key": "partition", "operator": "DoesNotExist"}]})");
  CHECK(matches(exists, {{"partition", "customerA"}}));
  CHECK(matches(exists, {{"partition", ""}}));
  CHECK_FALSE(matches(exists, {{"environment", "qa"}}));
  CHECK_FALSE(matches(absent, {{"partition", "customerA"}}));
  CHECK(matches(absent, {{"environment", "qa"}}));
  CHECK(toQueryString(exists) == "partition");
  CHECK(toQueryString(absent) == "!partition");
}

TEST_CASE("selector: 'partition,environment notin (qa)': requirements are ANDed", "[unit]") {
  auto selector = parse(R"({"matchExpressions": [
      {"key": "partition", "operator": "Exists"},
      {"key": "environment", "operator": "NotIn", "values": ["qa"]}]})");
  CHECK(matches(selector, {{"partition", "customerA"}, {"environment", "production"}}));
  CHECK(matches(selector, {{"partition", "customerA"}}));
  CHECK_FALSE(matches(selector, {{"partition", "customerA"}, {"environment", "qa"}}));
  CHECK_FALSE(matches(selector, {{"environment", "production"}}));
  CHECK(toQueryString(selector) == "environment notin (qa),partition");
}

TEST_CASE("selector: 'environment=production,tier!=frontend' via NotIn", "[unit]") {
  auto selector = parse(R"({"matchLabels": {"environment": "production"},
      "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["frontend"]}]})");
  CHECK(matches(selector, {{"environment", "production"}, {"tier", "backend"}}));
  CHECK(matches(selector, {{"environment", "production"}}));
  CHECK_FALSE(matches(selector, {{"environment", "production"}, {"tier", "frontend"}}));
  CHECK_FALSE(matches(selector, {{"environment", "qa"}, {"tier", "backend"}}));
}

TEST_CASE("selector: the docs' matchLabels + matchExpressions example ANDs both", "[unit]") {
  // component: redis; tier In (cache); environment NotIn (dev)
  auto selector = parse(R"({"matchLabels": {"component": "redis"},
      "matchExpressions": [{"key": "tier", "operator": "In", "values": ["cache"]},
                           {"key": "environment", "operator": "NotIn", "values": ["dev"]}]})");
  CHECK(matches(selector, {{"component", "redis"}, {"tier", "cache"}}));
  CHECK(matches(selector,
                {{"component", "redis"}, {"tier", "cache"}, {"environment", "production"}}));
  CHECK_FALSE(
      matches(selector, {{"component", "redis"}, {"tier", "cache"}, {"environment", "dev"}}));
  CHECK_FALSE(matches(selector, {{"component", "redis"}, {"tier", "frontend"}}));
  CHECK_FALSE(matches(selector, {{"tier", "cache"}}));
  CHECK(toQueryString(selector) == "component=redis,environment notin (dev),tier in (cache)");
}

TEST_CASE("selector: empty selects everything, null selects nothing", "[unit]") {
  auto empty = parse("{}");
  CHECK(empty.empty());
  CHECK(matches(empty, {}));
  CHECK(matches(empty, {{"any", "thing"}}));
  CHECK(toQueryString(empty).empty());

  json object = json::parse(R"({"podSelector": null, "namespaceSelector": {}})");
  auto absent = parseOptionalLabelSelector(object, "nodeSelector", "spec.nodeSelector");
  REQUIRE(absent.ok());
  CHECK_FALSE(absent->has_value());
  CHECK_FALSE(matches(*absent, {{"any", "thing"}}));
  auto null = parseOptionalLabelSelector(object, "podSelector", "spec.podSelector");
  REQUIRE(null.ok());
  CHECK_FALSE(matches(*null, {}));
  auto present = parseOptionalLabelSelector(object, "namespaceSelector", "spec.namespaceSelector");
  REQUIRE(present.ok());
  CHECK(matches(*present, {}));
}

TEST_CASE("selector: validation errors name the field and the fix", "[unit]") {
  auto check = [](const char* text, const std::string& expected) {
    auto selector = parseLabelSelector(json::parse(text), "spec.appliedTo.podSelector");
    REQUIRE_FALSE(selector.ok());
    INFO(selector.error().message);
    CHECK(selector.error().message.find(expected) != std::string::npos);
  };
  check(R"({"matchExpressions": [{"key": "app", "operator": "In", "values": []}]})",
        "spec.appliedTo.podSelector.matchExpressions[0].values: must be non-empty for operator In");
  check(
      R"({"matchExpressions": [{"key": "app", "operator": "Exists"}, {"key": "app", "operator": "NotIn"}]})",
      "spec.appliedTo.podSelector.matchExpressions[1].values: must be non-empty for operator "
      "NotIn");
  check(R"({"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]})",
        "spec.appliedTo.podSelector.matchExpressions[0].values: must be empty for operator Exists");
  check(R"({"matchExpressions": [{"key": "app", "operator": "DoesNotExist", "values": ["x"]}]})",
        "must be empty for operator DoesNotExist");
  check(R"({"matchExpressions": [{"key": "app", "operator": "in", "values": ["x"]}]})",
        "spec.appliedTo.podSelector.matchExpressions[0].operator: unsupported operator \"in\"");
  check(R"({"matchExpressions": [{"operator": "Exists"}]})",
        "spec.appliedTo.podSelector.matchExpressions[0].key: a label key is required");
  check(R"({"matchExpressions": [{"key": "-bad-", "operator": "Exists"}]})",
        "not a valid label key");
  check(R"({"matchLabels": {"app": "no spaces"}})", "spec.appliedTo.podSelector.matchLabels.app");
  check(R"({"matchLabels": {"app": 3}})", "must be a string");
  check(R"([])", "spec.appliedTo.podSelector: must be an object");
}

TEST_CASE("selector: prefixed keys and round trip to JSON", "[unit]") {
  auto selector = parse(R"({"matchLabels": {"app.kubernetes.io/name": "web"},
      "matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["b", "a"]}]})");
  CHECK(matches(selector, {{"app.kubernetes.io/name", "web"}, {"kubernetes.io/hostname", "a"}}));
  auto again = parseLabelSelector(toJson(selector), "x");
  REQUIRE(again.ok());
  CHECK(toQueryString(*again) == toQueryString(selector));
  CHECK(toQueryString(selector) == "app.kubernetes.io/name=web,kubernetes.io/hostname in (a,b)");
}

TEST_CASE("selector: labelsOf reads metadata.labels", "[unit]") {
  CHECK(labelsOf(json::parse(R"({"metadata": {"labels": {"a": "b"}}})")) == Labels{{"a", "b"}});
  CHECK(labelsOf(json::parse(R"({"metadata": {}})")).empty());
  CHECK(labelsOf(json()).empty());
}

}  // namespace
}  // namespace sluice::kube
