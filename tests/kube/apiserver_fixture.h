// Test fixture: runs the lab API server (tools/apiserver) as a child process in a temporary
// directory, waits for its kubeconfig, and stops it by PID.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "kube/client.h"
#include "kube/config.h"

namespace sluice::kube::testing {

struct ApiServerOptions {
  bool persistent = false;  // --data DIR, so that restart() keeps the objects
  int watchCacheSize = 0;   // --watch-cache-size N (0: the server's default)
};

class ApiServer {
 public:
  // Starts the server and waits (with a deadline) until its kubeconfig exists.
  static Result<std::unique_ptr<ApiServer>> start(ApiServerOptions options = {});
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Stops the process (SIGTERM, then SIGKILL after a deadline) and waits for it.
  void stop();
  // Starts it again on the same port (and data directory, if persistent).
  Result<void> restart();

  const std::string& kubeconfigPath() const { return kubeconfig_; }
  Result<ClusterConfig> config() const;
  Result<std::unique_ptr<Client>> client(const TransportOptions& options = {}) const;
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string logTail() const;

 private:
  explicit ApiServer(ApiServerOptions options) : options_(options) {}
  Result<void> spawn(const std::string& listen);

  ApiServerOptions options_;
  std::string dir_;
  std::string kubeconfig_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// The path of a file in the source tree.
std::string sourcePath(const std::string& relative);

// Creates a namespace; an existing one is fine.
Result<void> ensureNamespace(Client& client, const std::string& name);
// Creates (or keeps) the CRDs from manifests/crds.yml and waits until Egresses can be listed.
Result<void> installCrds(Client& client);

}  // namespace sluice::kube::testing
