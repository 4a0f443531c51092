// Unit tests of CNI request parsing and result rendering, including every malformed input the
// runtime can send.
#include <catch2/catch.hpp>

#include "cni/cni_protocol.h"

namespace sluice::cni {
namespace {

using Environment = std::map<std::string, std::string>;

const char* kConfig = R"({"cniVersion":"1.0.0","name":"sluice","type":"sluice-cni"})";

Environment addEnvironment() {
  return {{"CNI_COMMAND", "ADD"},
          {"CNI_CONTAINERID", "abc123"},
          {"CNI_NETNS", "/run/netns/pod"},
          {"CNI_IFNAME", "eth0"},
          {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-1;K8S_POD_UID=u-1"},
          {"CNI_PATH", "/opt/cni/bin"}};
}

CniError errorOf(const Environment& environment, const std::string& stdinText) {
  auto parsed = parseRequest(environment, stdinText);
  REQUIRE(std::holds_alternative<CniError>(parsed));
  return std::get<CniError>(parsed);
}

TEST_CASE("a well-formed ADD parses with the pod's identity from CNI_ARGS", "[unit]") {
  auto parsed = parseRequest(addEnvironment(), kConfig);
  REQUIRE(std::holds_alternative<Request>(parsed));
  const auto& request = std::get<Request>(parsed);
  CHECK(request.command == Command::kAdd);
  CHECK(request.cniVersion == "1.0.0");
  CHECK(request.networkName == "sluice");
  CHECK(request.podNamespace() == "prod");
  CHECK(request.podName() == "web-1");
  CHECK(request.podUid() == "u-1");
  CHECK(request.prevResult.is_null());
}

TEST_CASE("podman's CNI_ARGS without a namespace still parse", "[unit]") {
  auto environment = addEnvironment();
  environment["CNI_ARGS"] = "IgnoreUnknown=1;K8S_POD_NAME=box";
  const auto parsed =
      parseRequest(environment, kConfig);  // keep the variant: get<> returns into it
  REQUIRE(std::holds_alternative<Request>(parsed));
  const auto& request = std::get<Request>(parsed);
  CHECK(request.podName() == "box");
  CHECK(request.podNamespace().empty());
}

TEST_CASE("malformed input maps to the spec's error codes", "[unit]") {
  CHECK(errorOf(addEnvironment(), "{not json").code == ErrorCode::kDecodeFailure);
  CHECK(errorOf(addEnvironment(), "[]").code == ErrorCode::kDecodeFailure);
  auto unknownVersion =
      errorOf(addEnvironment(), R"({"cniVersion":"9.9.9","name":"n","type":"t"})");
  CHECK(unknownVersion.code == ErrorCode::kIncompatibleVersion);
  CHECK_THAT(unknownVersion.details, Catch::Contains("1.0.0"));
  CHECK(errorOf(addEnvironment(), R"({"name":"n","type":"t"})").code ==
        ErrorCode::kInvalidNetworkConfig);
  CHECK(errorOf(addEnvironment(), R"({"cniVersion":"1.0.0","type":"t"})").code ==
        ErrorCode::kInvalidNetworkConfig);
  CHECK(errorOf(addEnvironment(), R"({"cniVersion":"1.0.0","name":"n","type":"t","agentSocket":3})")
            .code == ErrorCode::kInvalidNetworkConfig);

  auto noNetns = addEnvironment();
  noNetns.erase("CNI_NETNS");
  auto error = errorOf(noNetns, kConfig);
  CHECK(error.code == ErrorCode::kInvalidEnvironment);
  CHECK_THAT(error.message, Catch::Contains("CNI_NETNS"));

  auto badIfName = addEnvironment();
  badIfName["CNI_IFNAME"] = "a-name-that-is-too-long";
  CHECK(errorOf(badIfName, kConfig).code == ErrorCode::kInvalidEnvironment);
  auto badId = addEnvironment();
  badId["CNI_CONTAINERID"] = "a/b";
  CHECK(errorOf(badId, kConfig).code == ErrorCode::kInvalidEnvironment);
  auto badArgs = addEnvironment();
  badArgs["CNI_ARGS"] = "K8S_POD_NAME";
  CHECK(errorOf(badArgs, kConfig).code == ErrorCode::kInvalidEnvironment);
  CHECK(errorOf({}, kConfig).code == ErrorCode::kInvalidEnvironment);
  CHECK(errorOf({{"CNI_COMMAND", "FROB"}}, kConfig).code == ErrorCode::kInvalidEnvironment);
}

// Regression (fuzz_cni_request): bytes that are not UTF-8 in CNI_COMMAND ended up in the error
// message, and rendering it threw, so sluice-cni aborted without printing any CNI error.
TEST_CASE("fuzz regression: CNI_* values that are not UTF-8 are code 4 and render", "[unit]") {
  auto environment = addEnvironment();
  environment["CNI_COMMAND"] = "\x98\x98\x98_=";
  auto error = errorOf(environment, kConfig);
  CHECK(error.code == ErrorCode::kInvalidEnvironment);
  CHECK(error.message == "CNI_COMMAND is not valid UTF-8");
  CHECK_NOTHROW(toWire(renderError(error, "1.0.0")));

  environment = addEnvironment();
  environment["CNI_CONTAINERID"] = "abc\xc0\x80";  // an overlong NUL
  CHECK(errorOf(environment, kConfig).message == "CNI_CONTAINERID is not valid UTF-8");
  environment["CNI_CONTAINERID"] = "abc\xed\xa0\x80";  // a UTF-16 surrogate
  CHECK(errorOf(environment, kConfig).code == ErrorCode::kInvalidEnvironment);
  environment = addEnvironment();
  environment["CNI_ARGS"] = "K8S_POD_NAME=caf\xc3\xa9";  // real UTF-8 still parses
  CHECK(std::holds_alternative<Request>(parseRequest(environment, kConfig)));

  // The JSON parser's own message quotes the bad bytes of stdin: it must still render.
  error = errorOf(addEnvironment(), "{\"name\":\"\xff\xfe\"}");
  CHECK(error.code == ErrorCode::kDecodeFailure);
  CHECK_NOTHROW(toWire(renderError(error, "1.0.0")));
}

TEST_CASE("fuzz regression: a number too large for JSON's doubles is a decode failure", "[unit]") {
  // nlohmann::json throws out_of_range, not parse_error, for 22e222...: sluice-cni aborted.
  auto environment = addEnvironment();
  environment["CNI_COMMAND"] = "DEL";
  const auto error = errorOf(environment, "22e22222222222222200000000000000001311921");
  CHECK(error.code == ErrorCode::kDecodeFailure);
  CHECK(error.message == "the network config on stdin is not valid JSON");
}

TEST_CASE("DEL works without a netns or a prevResult", "[unit]") {
  auto environment = addEnvironment();
  environment["CNI_COMMAND"] = "DEL";
  environment.erase("CNI_NETNS");
  auto parsed = parseRequest(environment, kConfig);
  REQUIRE(std::holds_alternative<Request>(parsed));
  CHECK(std::get<Request>(parsed).netns.empty());
}

TEST_CASE("VERSION needs no config and lists 0.3.0 to 1.0.0", "[unit]") {
  auto parsed = parseRequest({{"CNI_COMMAND", "VERSION"}}, "");
  REQUIRE(std::holds_alternative<Request>(parsed));
  const auto version = renderVersion("1.0.0");
  CHECK(version["supportedVersions"] ==
        nlohmann::json::array({"0.3.0", "0.3.1", "0.4.0", "1.0.0"}));
  CHECK(renderVersion("")["cniVersion"] == "1.0.0");
}

TEST_CASE("STATUS and GC accept a 1.1.0 config; ADD does not", "[unit]") {
  const char* config11 = R"({"cniVersion":"1.1.0","name":"n","type":"t"})";
  CHECK(std::holds_alternative<Request>(parseRequest({{"CNI_COMMAND", "STATUS"}}, config11)));
  CHECK(std::holds_alternative<Request>(parseRequest({{"CNI_COMMAND", "GC"}}, config11)));
  CHECK(errorOf(addEnvironment(), config11).code == ErrorCode::kIncompatibleVersion);
}

TEST_CASE("results render in the requested version's layout", "[unit]") {
  AddResult result;
  result.interfaces = {{"eth0", "aa:bb:cc:dd:ee:ff", "/run/netns/pod"}};
  result.ips = {{"10.244.1.5/24", "10.244.1.1", 0}};
  result.routes = {{"0.0.0.0/0", "10.244.1.1"}};
  const auto current = renderResult(result, "1.0.0");
  CHECK(current["cniVersion"] == "1.0.0");
  CHECK(current["ips"][0]["address"] == "10.244.1.5/24");
  CHECK(current["ips"][0]["interface"] == 0);
  CHECK_FALSE(current["ips"][0].contains("version"));
  CHECK(current["routes"][0]["gw"] == "10.244.1.1");
  CHECK(current["interfaces"][0]["sandbox"] == "/run/netns/pod");
  CHECK(renderResult(result, "0.3.1")["ips"][0]["version"] == "4");
  const auto error = renderError({ErrorCode::kTryAgainLater, "agent down", "start it"}, "1.0.0");
  CHECK(error["code"] == 11);
  CHECK(error["msg"] == "agent down");
  CHECK(error["details"] == "start it");
}

}  // namespace
}  // namespace sluice::cni
