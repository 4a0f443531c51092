// Unit tests for kubeconfig and in-cluster configuration parsing.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kube/config.h"
#include "kube/transport.h"

namespace sluice::kube {
namespace {

// "-----BEGIN CERTIFICATE-----\nAAA\n" in base64.
constexpr const char* kCaBase64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkFBQQo=";
constexpr const char* kCaText = "-----BEGIN CERTIFICATE-----\nAAA\n";

struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/sluice-kube-test.XXXXXX";
    path = mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
  }
  std::string path;
};

TEST_CASE("kubeconfig: current-context, inline CA data and token", "[unit]") {
  std::string yaml = std::string(R"(
apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: other
  cluster: {server: "https://10.0.0.1:6443"}
- name: lab-cluster
  cluster:
    server: https://127.0.0.1:34567
    certificate-authority-data: )") +
                     kCaBase64 + R"(
contexts:
- name: lab
  context: {cluster: lab-cluster, user: admin, namespace: sluice-system}
users:
- name: admin
  user: {token: secret-token}
)";
  auto config = parseKubeconfig(yaml, "/nowhere", "kubeconfig test");
  REQUIRE(config.ok());
  CHECK(config->server == "https://127.0.0.1:34567");
  CHECK(config->caPem == kCaText);
  CHECK(config->token == "secret-token");
  CHECK(config->defaultNamespace == "sluice-system");
  CHECK_FALSE(config->insecureSkipTlsVerify);
}

TEST_CASE("kubeconfig: file references resolve against the kubeconfig's directory", "[unit]") {
  TempDir dir;
  dir.write("ca.crt", "CA-PEM");
  dir.write("client.crt", "CERT-PEM");
  dir.write("client.key", "KEY-PEM");
  dir.write("config", R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://kube.example:443", certificate-authority: ca.crt}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {client-certificate: client.crt, client-key: client.key, tokenFile: tok}}]
)");
  auto config = loadKubeconfig(dir.path + "/config");
  REQUIRE(config.ok());
  CHECK(config->caPem == "CA-PEM");
  CHECK(config->clientCertPem == "CERT-PEM");
  CHECK(config->clientKeyPem == "KEY-PEM");
  CHECK(config->tokenFile == dir.path + "/tok");
  CHECK(config->defaultNamespace == "default");
}

TEST_CASE("kubeconfig: an explicit context and insecure-skip-tls-verify", "[unit]") {
  std::string yaml = R"(
current-context: a
clusters:
- {name: ka, cluster: {server: "https://a:1"}}
- {name: kb, cluster: {server: "https://b:2", insecure-skip-tls-verify: true}}
contexts:
- {name: a, context: {cluster: ka}}
- {name: b, context: {cluster: kb}}
)";
  auto config = parseKubeconfig(yaml, "", "kubeconfig test", KubeconfigOptions{.context = "b"});
  REQUIRE(config.ok());
  CHECK(config->server == "https://b:2");
  CHECK(config->insecureSkipTlsVerify);
  CHECK(config->token.empty());
}

TEST_CASE("kubeconfig: errors name the file and the missing piece", "[unit]") {
  auto check = [](const std::string& yaml, const std::string& expected) {
    auto config = parseKubeconfig(yaml, "", "kubeconfig /k");
    REQUIRE_FALSE(config.ok());
    INFO(config.error().message);
    CHECK(config.error().message.find(expected) != std::string::npos);
  };
  check("current-context: x\ncontexts: []\n", "kubeconfig /k: contexts: no context named \"x\"");
  check("contexts: []\n", "current-context is empty");
  check("current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n",
        "no cluster named \"k\"");
  check(
      "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
      "clusters: [{name: k, cluster: {server: \"https://a\"}}]\n",
      "no user named \"u\"");
  check(
      "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
      "clusters: [{name: k, cluster: {server: \"https://a\", certificate-authority-data: "
      "\"!!\"}}]\n",
      "certificate-authority-data: not valid base64");
  check("a: [", "invalid YAML");
  check("- 1\n", "not a kubeconfig");
  auto missing = loadKubeconfig("/nonexistent/sluice/kubeconfig");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("/nonexistent/sluice/kubeconfig") != std::string::npos);
}

TEST_CASE("in-cluster: service account files and service environment", "[unit]") {
  TempDir dir;
  dir.write("token", "sa-token\n");
  dir.write("ca.crt", "CLUSTER-CA");
  dir.write("namespace", "kube-system");
  auto config = loadInCluster(InClusterOptions{
      .serviceAccountDir = dir.path, .serviceHost = "10.96.0.1", .servicePort = "443"});
  REQUIRE(config.ok());
  CHECK(config->server == "https://10.96.0.1:443");
  CHECK(config->token == "sa-token");
  CHECK(config->tokenFile == dir.path + "/token");
  CHECK(config->caPem == "CLUSTER-CA");
  CHECK(config->defaultNamespace == "kube-system");

  auto ipv6 = loadInCluster(InClusterOptions{
      .serviceAccountDir = dir.path, .serviceHost = "fd00::1", .servicePort = "443"});
  REQUIRE(ipv6.ok());
  CHECK(ipv6->server == "https://[fd00::1]:443");

  auto noEnv = loadInCluster(
      InClusterOptions{.serviceAccountDir = dir.path, .serviceHost = "", .servicePort = ""});
  REQUIRE_FALSE(noEnv.ok());
  CHECK(noEnv.error().message.find("KUBERNETES_SERVICE_HOST") != std::string::npos);
  auto noToken = loadInCluster(InClusterOptions{
      .serviceAccountDir = dir.path + "/missing", .serviceHost = "h", .servicePort = "1"});
  REQUIRE_FALSE(noToken.ok());
  CHECK(noToken.error().message.find("/missing/token") != std::string::npos);
}

TEST_CASE("server URLs: hosts, IPv6, ports and base paths", "[unit]") {
  auto url = parseServerUrl("https://127.0.0.1:6443");
  REQUIRE(url.ok());
  CHECK(url->host == "127.0.0.1");
  CHECK(url->port == "6443");
  CHECK(url->basePath.empty());
  auto v6 = parseServerUrl("https://[fd00::1]:443/prefix/");
  REQUIRE(v6.ok());
  CHECK(v6->host == "fd00::1");
  CHECK(v6->basePath == "/prefix");
  auto noPort = parseServerUrl("https://kube.example");
  REQUIRE(noPort.ok());
  CHECK(noPort->port == "443");
  CHECK_FALSE(parseServerUrl("kube.example:443").ok());
  CHECK_FALSE(parseServerUrl("ftp://kube").ok());
  CHECK_FALSE(parseServerUrl("https://kube:port").ok());
  ClusterConfig plain;
  plain.server = "http://127.0.0.1:8080";
  CHECK_FALSE(makeHttpTransport(plain).ok());
}

TEST_CASE("plain HTTP to HOST:PORT uses the same client; headers are case-insensitive", "[unit]") {
  CHECK(makePlainHttpTransport("127.0.0.1:10349").ok());
  auto noPort = makePlainHttpTransport("controller");
  REQUIRE_FALSE(noPort.ok());
  CHECK(noPort.error().message.find("is not HOST:PORT") != std::string::npos);
  // Nothing listens on port 1: the error names the address.
  auto transport = makePlainHttpTransport(
      "127.0.0.1:1", "", TransportOptions{.connectTimeout = std::chrono::milliseconds(500)});
  REQUIRE(transport.ok());
  auto response = (*transport)->send(HttpRequest{});
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().message.find("127.0.0.1:1") != std::string::npos);
  CHECK((*transport)->connectionsOpened() == 0);

  const HttpResponse redirect(307, "", {{"Location", "http://10.0.0.5:10349/v1/report"}});
  CHECK(redirect.header("location") == "http://10.0.0.5:10349/v1/report");
  CHECK(redirect.header("content-type").empty());
}

TEST_CASE("transport: bad CA material is reported with its source", "[unit]") {
  ClusterConfig config;
  config.server = "https://127.0.0.1:1";
  config.caPem = "not a certificate";
  config.source = "kubeconfig /k";
  auto transport = makeHttpTransport(config);
  REQUIRE_FALSE(transport.ok());
  CHECK(transport.error().message.find("kubeconfig /k: bad TLS material") != std::string::npos);
}

}  // namespace
}  // namespace sluice::kube
