// Generic Kubernetes API client: CRUD, merge patches, status updates with conflict retry, and
// watch, on nlohmann::json objects.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "kube/config.h"
#include "kube/resource.h"
#include "kube/transport.h"

namespace sluice::kube {

// A failed API call: the HTTP status (0 when the server was not reached) and the Kubernetes
// Status' reason ("NotFound", "Conflict", "Expired", ...).
struct ApiError {
  int code = 0;
  std::string reason;
  std::string message;
};

// A Result that also says why the API refused, so callers can branch on NotFound or Conflict.
// Converts to sluice::Result<T> by slicing.
template <typename T>
class [[nodiscard]] ApiResult : public Result<T> {
 public:
  ApiResult(T value) : Result<T>(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  ApiResult(ApiError error)                            // NOLINT(google-explicit-constructor)
      : Result<T>(makeError(error.message)), code_(error.code), reason_(std::move(error.reason)) {}
  int code() const { return code_; }
  const std::string& reason() const { return reason_; }
  bool notFound() const { return code_ == 404; }
  bool conflict() const { return code_ == 409; }
  bool alreadyExists() const { return code_ == 409 && reason_ == "AlreadyExists"; }
  bool gone() const { return code_ == 410; }

 private:
  int code_ = 0;
  std::string reason_;
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  nlohmann::json object;  // for kError: a metav1.Status
};

// Decodes one line of a watch stream ({"type":"ADDED","object":{...}}).
[[nodiscard]] Result<WatchEvent> parseWatchEvent(std::string_view line);
// For an ERROR event: its Status code (410 means "resourceVersion too old: relist").
int statusCodeOf(const WatchEvent& event);

struct DeleteOptions {
  std::string preconditionUid;
  std::string preconditionResourceVersion;
};

// Why a watch() returned without a transport error.
struct WatchEnd {
  bool cancelled = false;
  // The stream ended with an ERROR event or HTTP status; 410 means relist.
  int errorCode = 0;
  std::string errorMessage;
};

// Returns false from a mutation to mean "nothing to change".
using Mutation = std::function<bool(nlohmann::json& object)>;

struct StatusUpdateOptions {
  int maxAttempts = 10;
};

class Client {
 public:
  explicit Client(std::unique_ptr<Transport> transport);
  // Builds the HTTPS transport for `config`.
  [[nodiscard]] static Result<std::unique_ptr<Client>> connect(
      const ClusterConfig& config, const TransportOptions& options = {});

  ApiResult<nlohmann::json> get(const ResourceRef& resource, const std::string& ns,
                                const std::string& name);
  // One page (or all, if options.limit is 0 and the server does not page); the List object.
  ApiResult<nlohmann::json> list(const ResourceRef& resource, const std::string& ns,
                                 const ListOptions& options = {});
  // Follows "continue" tokens; returns a List whose items are all pages' items and whose
  // metadata.resourceVersion is the first page's (a consistent snapshot, as the server pages one).
  ApiResult<nlohmann::json> listAll(const ResourceRef& resource, const std::string& ns,
                                    ListOptions options = {});
  ApiResult<nlohmann::json> create(const ResourceRef& resource, const std::string& ns,
                                   nlohmann::json object);
  // PUT; object's metadata.resourceVersion makes it conditional (409 Conflict when stale).
  ApiResult<nlohmann::json> update(const ResourceRef& resource, const nlohmann::json& object);
  ApiResult<nlohmann::json> updateStatus(const ResourceRef& resource, const nlohmann::json& object);
  ApiResult<nlohmann::json> patchMerge(const ResourceRef& resource, const std::string& ns,
                                       const std::string& name, const nlohmann::json& patch);
  ApiResult<nlohmann::json> patchStatus(const ResourceRef& resource, const std::string& ns,
                                        const std::string& name, const nlohmann::json& patch);
  ApiResult<nlohmann::json> remove(const ResourceRef& resource, const std::string& ns,
                                   const std::string& name, const DeleteOptions& options = {});

  // GET, apply `mutate` to a copy, and send the difference as a merge patch on /status guarded
  // by metadata.resourceVersion; on 409 Conflict, GET again and re-apply. Returns the updated
  // object (or the current one when `mutate` returns false).
  ApiResult<nlohmann::json> mutateStatus(const ResourceRef& resource, const std::string& ns,
                                         const std::string& name, const Mutation& mutate,
                                         const StatusUpdateOptions& options = {});

  // Blocks, calling onEvent for each event, until the server ends the stream, an ERROR event
  // arrives (its code is in WatchEnd), or `canceller` is cancelled.
  ApiResult<WatchEnd> watch(const ResourceRef& resource, const std::string& ns,
                            const ListOptions& options,
                            const std::function<void(WatchEvent&&)>& onEvent,
                            StreamCanceller& canceller);

  // Raw access for requests this class does not wrap.
  ApiResult<nlohmann::json> request(const std::string& method, const std::string& target,
                                    const std::string& contentType, const std::string& body);

 private:
  std::unique_ptr<Transport> transport_;
};

}  // namespace sluice::kube
