// The generic API client on top of Transport.
#include "kube/client.h"

#include "common/log.h"

namespace sluice::kube {

using nlohmann::json;

namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kMergePatch = "application/merge-patch+json";

ApiError errorFrom(const std::string& what, const HttpResponse& response) {
  ApiError error;
  error.code = response.status;
  std::string detail;
  try {
    json status = json::parse(response.body);
    if (status.is_object()) {
      error.reason = status.value("reason", "");
      detail = status.value("message", "");
    }
  } catch (const json::exception&) {
    detail = response.body.substr(0, 200);
  }
  error.message = what + ": HTTP " + std::to_string(response.status) +
                  (error.reason.empty() ? "" : " " + error.reason) +
                  (detail.empty() ? "" : ": " + detail);
  return error;
}

std::string describeObject(const ResourceRef& resource, const std::string& ns,
                           const std::string& name) {
  std::string kind = resource.kind.empty() ? resource.resource : resource.kind;
  return kind + " " + makeKey(resource.namespaced ? ns : "", name);
}

}  // namespace

Result<WatchEvent> parseWatchEvent(std::string_view line) {
  json parsed;
  try {
    parsed = json::parse(line);
  } catch (const json::exception& error) {
    return makeError(std::string("watch: undecodable event: ") + error.what());
  }
  if (!parsed.is_object() || !parsed.contains("type") || !parsed["type"].is_string()) {
    return makeError("watch: event without a type");
  }
  const auto& type = parsed["type"].get_ref<const std::string&>();
  WatchEvent event;
  if (type == "ADDED") {
    event.type = WatchEventType::kAdded;
  } else if (type == "MODIFIED") {
    event.type = WatchEventType::kModified;
  } else if (type == "DELETED") {
    event.type = WatchEventType::kDeleted;
  } else if (type == "BOOKMARK") {
    event.type = WatchEventType::kBookmark;
  } else if (type == "ERROR") {
    event.type = WatchEventType::kError;
  } else {
    return makeError("watch: unknown event type \"" + type + "\"");
  }
  auto object = parsed.find("object");
  if (object == parsed.end() || !object->is_object())
    return makeError("watch: " + type + " event without an object");
  event.object = std::move(*object);
  return event;
}

int statusCodeOf(const WatchEvent& event) {
  auto code = event.object.find("code");
  if (code == event.object.end() || !code->is_number_integer()) return 0;
  return code->get<int>();
}

Client::Client(std::unique_ptr<Transport> transport) : transport_(std::move(transport)) {}

Result<std::unique_ptr<Client>> Client::connect(const ClusterConfig& config,
                                                const TransportOptions& options) {
  auto transport = makeHttpTransport(config, options);
  if (!transport) return transport.error();
  return std::make_unique<Client>(std::move(*transport));
}

ApiResult<json> Client::request(const std::string& method, const std::string& target,
                                const std::string& contentType, const std::string& body) {
  HttpRequest request{method, target, contentType, body};
  auto response = transport_->send(request);
  if (!response) return ApiError{0, "", response.error().message};
  if (response->status < 200 || response->status >= 300)
    return errorFrom(method + " " + target, *response);
  if (response->body.empty()) return json::object();
  try {
    return json::parse(response->body);
  } catch (const json::exception& error) {
    return ApiError{response->status, "",
                    method + " " + target + ": undecodable JSON response: " + error.what()};
  }
}

namespace {
// Re-labels an error with the object it was about, keeping code and reason.
ApiResult<json> about(ApiResult<json> result, const std::string& what) {
  if (result.ok()) return result;
  return ApiError{result.code(), result.reason(), what + ": " + result.error().message};
}
}  // namespace

ApiResult<json> Client::get(const ResourceRef& resource, const std::string& ns,
                            const std::string& name) {
  return about(request("GET", objectPath(resource, ns, name), "", ""),
               "get " + describeObject(resource, ns, name));
}

ApiResult<json> Client::list(const ResourceRef& resource, const std::string& ns,
                             const ListOptions& options) {
  return about(request("GET", collectionPath(resource, ns) + listQuery(options, false), "", ""),
               "list " + resource.resource);
}

ApiResult<json> Client::listAll(const ResourceRef& resource, const std::string& ns,
                                ListOptions options) {
  auto first = list(resource, ns, options);
  if (!first) return first;
  json result = std::move(*first);
  if (!result.contains("items") || !result["items"].is_array()) result["items"] = json::array();
  for (;;) {
    std::string token;
    if (auto metadata = result.find("metadata");
        metadata != result.end() && metadata->is_object()) {
      token = metadata->value("continue", "");
    }
    if (token.empty()) break;
    options.continueToken = token;
    options.resourceVersion.clear();
    auto page = list(resource, ns, options);
    if (!page) return page;
    for (auto& item : (*page)["items"]) result["items"].push_back(std::move(item));
    result["metadata"]["continue"] = (*page)["metadata"].value("continue", "");
  }
  result["metadata"].erase("continue");
  return result;
}

ApiResult<json> Client::create(const ResourceRef& resource, const std::string& ns, json object) {
  if (!object.contains("apiVersion")) object["apiVersion"] = resource.apiVersion();
  if (!object.contains("kind") && !resource.kind.empty()) object["kind"] = resource.kind;
  return about(request("POST", collectionPath(resource, ns), kJson, object.dump()),
               "create " + describeObject(resource, ns, nameOf(object)));
}

ApiResult<json> Client::update(const ResourceRef& resource, const json& object) {
  std::string ns = namespaceOf(object), name = nameOf(object);
  return about(request("PUT", objectPath(resource, ns, name), kJson, object.dump()),
               "update " + describeObject(resource, ns, name));
}

ApiResult<json> Client::updateStatus(const ResourceRef& resource, const json& object) {
  std::string ns = namespaceOf(object), name = nameOf(object);
  return about(request("PUT", objectPath(resource, ns, name, "status"), kJson, object.dump()),
               "update status of " + describeObject(resource, ns, name));
}

ApiResult<json> Client::patchMerge(const ResourceRef& resource, const std::string& ns,
                                   const std::string& name, const json& patch) {
  return about(request("PATCH", objectPath(resource, ns, name), kMergePatch, patch.dump()),
               "patch " + describeObject(resource, ns, name));
}

ApiResult<json> Client::patchStatus(const ResourceRef& resource, const std::string& ns,
                                    const std::string& name, const json& patch) {
  return about(
      request("PATCH", objectPath(resource, ns, name, "status"), kMergePatch, patch.dump()),
      "patch status of " + describeObject(resource, ns, name));
}

ApiResult<json> Client::remove(const ResourceRef& resource, const std::string& ns,
                               const std::string& name, const DeleteOptions& options) {
  std::string body;
  if (!options.preconditionUid.empty() || !options.preconditionResourceVersion.empty()) {
    json deleteOptions = {
        {"apiVersion", "v1"}, {"kind", "DeleteOptions"}, {"preconditions", json::object()}};
    if (!options.preconditionUid.empty())
      deleteOptions["preconditions"]["uid"] = options.preconditionUid;
    if (!options.preconditionResourceVersion.empty()) {
      deleteOptions["preconditions"]["resourceVersion"] = options.preconditionResourceVersion;
    }
    body = deleteOptions.dump();
  }
  return about(request("DELETE", objectPath(resource, ns, name), body.empty() ? "" : kJson, body),
               "delete " + describeObject(resource, ns, name));
}

ApiResult<json> Client::mutateStatus(const ResourceRef& resource, const std::string& ns,
                                     const std::string& name, const Mutation& mutate,
                                     const StatusUpdateOptions& options) {
  std::string what = "update status of " + describeObject(resource, ns, name);
  for (int attempt = 1;; ++attempt) {
    auto current = get(resource, ns, name);
    if (!current) return current;
    json desired = *current;
    if (!mutate(desired)) return current;
    json before = current->value("status", json::object());
    json after = desired.value("status", json::object());
    json patch = {{"metadata", {{"resourceVersion", resourceVersionOf(*current)}}},
                  {"status", createMergePatch(before, after)}};
    auto patched = patchStatus(resource, ns, name, patch);
    if (patched.ok() || !patched.conflict()) return patched;
    if (attempt >= options.maxAttempts) {
      return ApiError{409, "Conflict",
                      what + ": still conflicting after " + std::to_string(attempt) +
                          " attempts; another writer keeps changing it"};
    }
    SLUICE_LOG(kDebug, "kube") << what << ": conflict, retrying (attempt " << attempt << ")";
  }
}

ApiResult<WatchEnd> Client::watch(const ResourceRef& resource, const std::string& ns,
                                  const ListOptions& options,
                                  const std::function<void(WatchEvent&&)>& onEvent,
                                  StreamCanceller& canceller) {
  HttpRequest request{"GET", collectionPath(resource, ns) + listQuery(options, true), "", ""};
  WatchEnd end;
  std::string decodeError;
  // The caller's canceller stays theirs: a stream this function abandons (undecodable event,
  // ERROR event) is ended through an inner canceller, so the caller can watch again.
  StreamCanceller inner;
  canceller.setHook([&inner] { inner.cancel(); });
  if (canceller.cancelled()) inner.cancel();
  struct ClearHook {
    StreamCanceller& canceller;
    ~ClearHook() { canceller.clearHook(); }
  } clearHook{canceller};
  auto response = transport_->stream(
      request,
      [&](std::string_view line) {
        if (end.errorCode != 0 || !decodeError.empty()) return;
        auto event = parseWatchEvent(line);
        if (!event) {
          decodeError = event.error().message;
          inner.cancel();
          return;
        }
        if (event->type == WatchEventType::kError) {
          end.errorCode = statusCodeOf(*event);
          if (end.errorCode == 0) end.errorCode = 500;
          end.errorMessage = event->object.value("message", "watch error");
          inner.cancel();
          return;
        }
        onEvent(std::move(*event));
      },
      inner);
  if (!decodeError.empty())
    return ApiError{0, "", "watch " + resource.resource + ": " + decodeError};
  if (end.errorCode != 0) return end;
  if (!response) {
    if (canceller.cancelled()) {
      end.cancelled = true;
      return end;
    }
    return ApiError{0, "", "watch " + resource.resource + ": " + response.error().message};
  }
  if (response->status < 200 || response->status >= 300) {
    auto error = errorFrom("watch " + resource.resource, *response);
    end.errorCode = error.code;
    end.errorMessage = error.message;
    return end;
  }
  end.cancelled = canceller.cancelled();
  return end;
}

}  // namespace sluice::kube
