// Unit tests for the Service CIDR choice (configured, detected, default) and its read from the
// ServiceCIDR API through a scripted transport.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <vector>

#include "kube/client.h"
#include "kube/service_cidr.h"

namespace sluice::kube {
namespace {

using nlohmann::json;

// Answers GETs from a path -> (status, body) table; records the paths asked for.
class ScriptedTransport final : public Transport {
 public:
  explicit ScriptedTransport(std::map<std::string, HttpResponse> answers,
                             std::vector<std::string>& asked)
      : answers_(std::move(answers)), asked_(asked) {}
  Result<HttpResponse> send(const HttpRequest& request) override {
    asked_.push_back(request.target);
    auto found = answers_.find(request.target);
    if (found == answers_.end())
      return HttpResponse(404, R"({"kind":"Status","code":404,"reason":"NotFound",)"
                               R"("message":"the server could not find the requested resource"})");
    return found->second;
  }
  Result<HttpResponse> stream(const HttpRequest& /*request*/,
                              const std::function<void(std::string_view)>& /*onLine*/,
                              StreamCanceller& /*canceller*/) override {
    return makeError("no watches here");
  }

 private:
  std::map<std::string, HttpResponse> answers_;
  std::vector<std::string>& asked_;
};

constexpr const char* kV1 = "/apis/networking.k8s.io/v1/servicecidrs/kubernetes";
constexpr const char* kV1beta1 = "/apis/networking.k8s.io/v1beta1/servicecidrs/kubernetes";

std::string serviceCidrObject(const std::string& apiVersion, const json& cidrs) {
  return json{{"apiVersion", apiVersion},
              {"kind", "ServiceCIDR"},
              {"metadata", {{"name", "kubernetes"}}},
              {"spec", {{"cidrs", cidrs}}}}
      .dump();
}

DetectedServiceCidr detectWith(std::map<std::string, HttpResponse> answers,
                               std::vector<std::string>& asked) {
  Client client(std::make_unique<ScriptedTransport>(std::move(answers), asked));
  return detectServiceCidr(client);
}

TEST_CASE("service CIDR: configured wins, then detected, then the default with why", "[unit]") {
  const auto configured = *parseCidr("10.100.0.0/16");
  const auto detected = *parseCidr("10.43.0.0/16");
  const auto fromConfig = chooseServiceCidr(configured, {.cidr = detected, .whyNot = ""});
  CHECK(fromConfig.cidr == configured);
  CHECK(fromConfig.source == ServiceCidrSource::kConfigured);
  CHECK(fromConfig.describe() == "configured");
  const auto fromApi = chooseServiceCidr(std::nullopt, {.cidr = detected, .whyNot = ""});
  CHECK(fromApi.cidr == detected);
  CHECK(fromApi.describe() == "from ServiceCIDR kubernetes");
  const auto fallback = chooseServiceCidr(
      std::nullopt, {.cidr = std::nullopt, .whyNot = "ServiceCIDR API not available"});
  CHECK(fallback.cidr == *parseCidr("10.96.0.0/12"));
  CHECK(fallback.source == ServiceCidrSource::kDefault);
  CHECK(fallback.describe() == "default; ServiceCIDR API not available");
  CHECK(chooseServiceCidr(std::nullopt, {}).describe() == "default");
}

TEST_CASE("service CIDR: the first IPv4 entry of spec.cidrs; errors name object and field",
          "[unit]") {
  auto dual = firstIpv4ServiceCidr(
      json::parse(serviceCidrObject("networking.k8s.io/v1", {"fd00:10:96::/108", "10.96.0.0/12"})));
  REQUIRE(dual);
  CHECK(*dual == *parseCidr("10.96.0.0/12"));
  auto v6 =
      firstIpv4ServiceCidr(json::parse(serviceCidrObject("networking.k8s.io/v1", {"fd00::/108"})));
  REQUIRE_FALSE(v6);
  CHECK_THAT(v6.error().message,
             Catch::Contains("ServiceCIDR kubernetes spec.cidrs has no IPv4 CIDR") &&
                 Catch::Contains("set serviceCIDR"));
  auto bad = firstIpv4ServiceCidr(
      json::parse(serviceCidrObject("networking.k8s.io/v1", {"10.96.0.1/12"})));
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("ServiceCIDR kubernetes spec.cidrs"));
  CHECK_FALSE(firstIpv4ServiceCidr(json{{"metadata", {{"name", "kubernetes"}}}}));
  CHECK_FALSE(firstIpv4ServiceCidr(json("not an object")));
}

TEST_CASE("service CIDR: read from v1, else v1beta1; 404 on both means not available", "[unit]") {
  std::vector<std::string> asked;
  auto v1 = detectWith(
      {{kV1, HttpResponse(200, serviceCidrObject("networking.k8s.io/v1", {"10.43.0.0/16"}))}},
      asked);
  REQUIRE(v1.cidr);
  CHECK(*v1.cidr == *parseCidr("10.43.0.0/16"));
  CHECK(asked == std::vector<std::string>{kV1});

  asked.clear();
  auto beta = detectWith(
      {{kV1beta1,
        HttpResponse(200, serviceCidrObject("networking.k8s.io/v1beta1", {"10.44.0.0/16"}))}},
      asked);
  REQUIRE(beta.cidr);
  CHECK(*beta.cidr == *parseCidr("10.44.0.0/16"));
  CHECK(asked == std::vector<std::string>{kV1, kV1beta1});

  asked.clear();
  auto none = detectWith({}, asked);
  CHECK_FALSE(none.cidr);
  CHECK(none.whyNot == "ServiceCIDR API not available");

  asked.clear();
  auto forbidden = detectWith(
      {{kV1, HttpResponse(403, R"({"kind":"Status","code":403,"reason":"Forbidden",)"
                               R"("message":"servicecidrs.networking.k8s.io is forbidden"})")}},
      asked);
  CHECK_FALSE(forbidden.cidr);
  CHECK_THAT(forbidden.whyNot, Catch::Contains("cannot get ServiceCIDR kubernetes") &&
                                   Catch::Contains("forbidden") &&
                                   Catch::Contains("grant get on servicecidrs"));
  CHECK(asked == std::vector<std::string>{kV1});  // only a 404 tries v1beta1
}

}  // namespace
}  // namespace sluice::kube
