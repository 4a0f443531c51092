// kubeconfig and in-cluster configuration loading (yaml-cpp).
#include "kube/config.h"

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "common/log.h"

namespace sluice::kube {
namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  return text;
}

// Base64 decoder for the "-data" fields (standard alphabet, padding optional, whitespace skipped).
Result<std::string> decodeBase64(const std::string& text, const std::string& field) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
    int v = value(c);
    if (v < 0)
      return makeError(field + ": not valid base64 (unexpected character '" + std::string(1, c) +
                       "')");
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

std::string resolvePath(const std::string& path, const std::string& baseDir) {
  if (path.empty() || path.front() == '/' || baseDir.empty()) return path;
  return baseDir + "/" + path;
}

// The `field` map of the list entry called `name` ({name: NAME, field: {...}}), if any.
std::optional<YAML::Node> findNamed(const YAML::Node& list, const std::string& name,
                                    const char* field) {
  if (!list || !list.IsSequence()) return std::nullopt;
  for (const auto& item : list) {
    if (!item.IsMap() || !item["name"] || !item["name"].IsScalar() || item["name"].Scalar() != name)
      continue;
    const YAML::Node body = item[field];
    if (!body || !body.IsMap()) return std::nullopt;
    return body;
  }
  return std::nullopt;
}

std::string scalar(const YAML::Node& node, const char* key) {
  if (!node || !node[key] || !node[key].IsScalar()) return "";
  return node[key].as<std::string>();
}

// Reads "<key>-data" (base64) or "<key>" (a file path), whichever is set; data wins, as in kubectl.
Result<std::string> pemFrom(const YAML::Node& node, const std::string& key,
                            const std::string& baseDir, const std::string& field) {
  std::string data = scalar(node, (key + "-data").c_str());
  if (!data.empty()) return decodeBase64(data, field + "." + key + "-data");
  std::string path = scalar(node, key.c_str());
  if (path.empty()) return std::string();
  return readFile(resolvePath(path, baseDir));
}

Result<ClusterConfig> parseKubeconfigNode(const YAML::Node& root, const std::string& baseDir,
                                          const std::string& sourceName,
                                          const KubeconfigOptions& options) {
  if (!root || !root.IsMap())
    return makeError(sourceName + ": not a kubeconfig (expected a YAML map)");
  std::string contextName =
      options.context.empty() ? scalar(root, "current-context") : options.context;
  if (contextName.empty()) {
    return makeError(
        sourceName +
        ": current-context is empty; set it (kubectl config use-context NAME) or pass a context");
  }
  auto context = findNamed(root["contexts"], contextName, "context");
  if (!context)
    return makeError(sourceName + ": contexts: no context named \"" + contextName + "\"");
  const YAML::Node contextBody = *context;
  std::string clusterName = scalar(contextBody, "cluster");
  std::string userName = scalar(contextBody, "user");
  auto clusterEntry = findNamed(root["clusters"], clusterName, "cluster");
  if (!clusterEntry) {
    return makeError(sourceName + ": clusters: no cluster named \"" + clusterName +
                     "\" (used by context \"" + contextName + "\")");
  }
  const YAML::Node cluster = *clusterEntry;
  ClusterConfig config;
  config.source = sourceName + ", context " + contextName;
  config.server = scalar(cluster, "server");
  if (config.server.empty())
    return makeError(sourceName + ": clusters[" + clusterName + "].cluster.server is empty");
  std::string clusterField = "clusters[" + clusterName + "].cluster";
  auto ca = pemFrom(cluster, "certificate-authority", baseDir, sourceName + ": " + clusterField);
  if (!ca) return ca.error();
  config.caPem = *ca;
  std::string insecure = scalar(cluster, "insecure-skip-tls-verify");
  config.insecureSkipTlsVerify = insecure == "true";
  if (config.insecureSkipTlsVerify) {
    SLUICE_LOG(kWarning, "kube") << sourceName << ": insecure-skip-tls-verify is set for cluster "
                                 << clusterName << ": the server's certificate is NOT verified";
  }
  std::string ns = scalar(contextBody, "namespace");
  if (!ns.empty()) config.defaultNamespace = ns;
  if (!userName.empty()) {
    auto userEntry = findNamed(root["users"], userName, "user");
    if (!userEntry) {
      return makeError(sourceName + ": users: no user named \"" + userName +
                       "\" (used by context \"" + contextName + "\")");
    }
    const YAML::Node user = *userEntry;
    std::string userField = sourceName + ": users[" + userName + "].user";
    config.token = scalar(user, "token");
    std::string tokenFile = scalar(user, "tokenFile");
    if (!tokenFile.empty()) config.tokenFile = resolvePath(tokenFile, baseDir);
    auto cert = pemFrom(user, "client-certificate", baseDir, userField);
    if (!cert) return cert.error();
    auto key = pemFrom(user, "client-key", baseDir, userField);
    if (!key) return key.error();
    config.clientCertPem = *cert;
    config.clientKeyPem = *key;
    if (config.clientCertPem.empty() != config.clientKeyPem.empty()) {
      return makeError(userField + ": client-certificate and client-key must be given together");
    }
  }
  return config;
}

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

}  // namespace

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError("cannot read " + path + ": check that the file exists and is readable");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<ClusterConfig> parseKubeconfig(const std::string& yamlText, const std::string& baseDir,
                                      const std::string& sourceName,
                                      const KubeconfigOptions& options) {
  try {
    return parseKubeconfigNode(YAML::Load(yamlText), baseDir, sourceName, options);
  } catch (const YAML::Exception& error) {
    return makeError(sourceName + ": invalid YAML: " + error.what());
  }
}

Result<ClusterConfig> loadKubeconfig(const std::string& path, const KubeconfigOptions& options) {
  auto text = readFile(path);
  if (!text) return makeError("kubeconfig: " + text.error().message);
  auto slash = path.rfind('/');
  std::string baseDir = slash == std::string::npos ? "." : path.substr(0, slash);
  return parseKubeconfig(*text, baseDir, "kubeconfig " + path, options);
}

Result<ClusterConfig> loadInCluster(const InClusterOptions& options) {
  auto host = options.serviceHost ? options.serviceHost : environment("KUBERNETES_SERVICE_HOST");
  auto port = options.servicePort ? options.servicePort : environment("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return makeError(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
        "(run inside a pod, or use a kubeconfig)");
  }
  ClusterConfig config;
  config.source = "in-cluster service account " + options.serviceAccountDir;
  // An IPv6 service host needs brackets in the URL.
  bool ipv6 = host->find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;
  config.tokenFile = options.serviceAccountDir + "/token";
  auto token = readFile(config.tokenFile);
  if (!token) return makeError("in-cluster config: " + token.error().message);
  config.token = trimmed(*token);
  auto ca = readFile(options.serviceAccountDir + "/ca.crt");
  if (!ca) return makeError("in-cluster config: " + ca.error().message);
  config.caPem = *ca;
  auto ns = readFile(options.serviceAccountDir + "/namespace");
  if (ns && !trimmed(*ns).empty()) config.defaultNamespace = trimmed(*ns);
  return config;
}

Result<ClusterConfig> loadDefaultConfig(const std::string& kubeconfigPath) {
  if (!kubeconfigPath.empty()) return loadKubeconfig(kubeconfigPath);
  if (environment("KUBERNETES_SERVICE_HOST")) return loadInCluster();
  if (auto path = environment("KUBECONFIG"); path && !path->empty()) {
    // Only the first entry of a colon-separated list; merging is kubectl's business.
    return loadKubeconfig(path->substr(0, path->find(':')));
  }
  if (auto home = environment("HOME")) return loadKubeconfig(*home + "/.kube/config");
  return makeError(
      "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run in a pod");
}

}  // namespace sluice::kube
