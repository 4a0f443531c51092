// Where the Kubernetes API is and how to authenticate: from a kubeconfig file or from the
// in-cluster service account.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/result.h"

namespace sluice::kube {

struct ClusterConfig {
  std::string server;  // "https://host:port[/prefix]"
  std::string caPem;   // empty: use the system's trust store
  bool insecureSkipTlsVerify = false;
  std::string token;      // bearer token, if given inline
  std::string tokenFile;  // re-read periodically: projected service-account tokens rotate
  std::string clientCertPem;
  std::string clientKeyPem;
  std::string defaultNamespace = "default";
  std::string source;  // where this came from, for error messages ("kubeconfig /x, context y")
};

struct KubeconfigOptions {
  std::string context{};  // empty: current-context
};

// Parses kubeconfig YAML. Relative file references (certificate-authority, tokenFile, ...) are
// resolved against `baseDir`, as kubectl does with the kubeconfig's directory.
[[nodiscard]] Result<ClusterConfig> parseKubeconfig(const std::string& yamlText,
                                                    const std::string& baseDir,
                                                    const std::string& sourceName,
                                                    const KubeconfigOptions& options = {});
[[nodiscard]] Result<ClusterConfig> loadKubeconfig(const std::string& path,
                                                   const KubeconfigOptions& options = {});

struct InClusterOptions {
  // Tests point this at a temporary directory.
  std::string serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";
  // Environment overrides; std::nullopt reads KUBERNETES_SERVICE_HOST/PORT from the process.
  std::optional<std::string> serviceHost{};
  std::optional<std::string> servicePort{};
};

[[nodiscard]] Result<ClusterConfig> loadInCluster(const InClusterOptions& options = {});

// In-cluster when KUBERNETES_SERVICE_HOST is set and `kubeconfigPath` is empty; otherwise the
// kubeconfig at `kubeconfigPath`, $KUBECONFIG or ~/.kube/config.
[[nodiscard]] Result<ClusterConfig> loadDefaultConfig(const std::string& kubeconfigPath = "");

// Reads a whole file (errors name the file).
[[nodiscard]] Result<std::string> readFile(const std::string& path);

}  // namespace sluice::kube
