// URL building, metadata accessors, merge patches and API timestamps.
#include "kube/resource.h"

#include <cstdio>
#include <ctime>

namespace sluice::kube {

using nlohmann::json;

std::string urlEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string collectionPath(const ResourceRef& resource, const std::string& ns) {
  std::string path = resource.group.empty() ? "/api/" + resource.version
                                            : "/apis/" + resource.group + "/" + resource.version;
  if (resource.namespaced && !ns.empty()) path += "/namespaces/" + urlEncode(ns);
  return path + "/" + resource.resource;
}

std::string objectPath(const ResourceRef& resource, const std::string& ns, const std::string& name,
                       const std::string& subresource) {
  std::string path = collectionPath(resource, ns) + "/" + urlEncode(name);
  if (!subresource.empty()) path += "/" + subresource;
  return path;
}

std::string listQuery(const ListOptions& options, bool watch) {
  std::string query;
  auto add = [&query](const std::string& key, const std::string& value) {
    query += (query.empty() ? "?" : "&") + key + "=" + urlEncode(value);
  };
  if (!options.labelSelector.empty()) add("labelSelector", options.labelSelector);
  if (!options.fieldSelector.empty()) add("fieldSelector", options.fieldSelector);
  if (!options.resourceVersion.empty()) add("resourceVersion", options.resourceVersion);
  if (!options.resourceVersionMatch.empty())
    add("resourceVersionMatch", options.resourceVersionMatch);
  if (options.limit > 0) add("limit", std::to_string(options.limit));
  if (!options.continueToken.empty()) add("continue", options.continueToken);
  if (options.timeoutSeconds > 0) add("timeoutSeconds", std::to_string(options.timeoutSeconds));
  if (watch) {
    add("watch", "true");
    if (options.allowWatchBookmarks) add("allowWatchBookmarks", "true");
  }
  return query;
}

namespace {
std::string metadataString(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto value = metadata->find(key);
  if (value == metadata->end() || !value->is_string()) return "";
  return value->get<std::string>();
}
}  // namespace

std::string nameOf(const json& object) { return metadataString(object, "name"); }
std::string namespaceOf(const json& object) { return metadataString(object, "namespace"); }
std::string resourceVersionOf(const json& object) {
  return metadataString(object, "resourceVersion");
}
std::string uidOf(const json& object) { return metadataString(object, "uid"); }

bool versionAtLeast(const std::string& ours, const std::string& other) {
  const bool digits = !ours.empty() && !other.empty() && ours.size() < 19 && other.size() < 19 &&
                      ours.find_first_not_of("0123456789") == std::string::npos &&
                      other.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) return true;
  return std::stoll(ours) >= std::stoll(other);
}

std::string makeKey(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}
std::string keyOf(const json& object) { return makeKey(namespaceOf(object), nameOf(object)); }

std::pair<std::string, std::string> splitKey(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

json createMergePatch(const json& from, const json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  json patch = json::object();
  for (const auto& [key, value] : from.items()) {
    if (!to.contains(key)) patch[key] = nullptr;
  }
  for (const auto& [key, value] : to.items()) {
    auto old = from.find(key);
    if (old == from.end()) {
      patch[key] = value;
    } else if (*old != value) {
      patch[key] = (old->is_object() && value.is_object()) ? createMergePatch(*old, value) : value;
    }
  }
  return patch;
}

json applyMergePatch(json target, const json& patch) {
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = json::object();
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      target.erase(key);
    } else {
      target[key] = applyMergePatch(target.contains(key) ? target[key] : json(), value);
    }
  }
  return target;
}

namespace {
std::string formatWithFraction(std::chrono::system_clock::time_point time, bool micro) {
  auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(time);
  if (seconds > time) seconds -= std::chrono::seconds(1);
  std::time_t t = std::chrono::system_clock::to_time_t(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string out = buffer;
  if (micro) {
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time - seconds).count();
    char fraction[32];
    std::snprintf(fraction, sizeof fraction, ".%06lld", static_cast<long long>(micros));
    out += fraction;
  }
  return out + "Z";
}
}  // namespace

std::string formatTime(std::chrono::system_clock::time_point time) {
  return formatWithFraction(time, false);
}
std::string formatMicroTime(std::chrono::system_clock::time_point time) {
  return formatWithFraction(time, true);
}

std::optional<std::chrono::system_clock::time_point> parseTime(const std::string& text) {
  std::tm utc{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon,
                  &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  // system_clock counts nanoseconds in 64 bits: years outside 1678..2261 overflow it (undefined
  // behaviour that fuzz_kube_objects found), and they are never real Kubernetes timestamps.
  if (utc.tm_year < 1678 || utc.tm_year > 2261 || utc.tm_mon < 1 || utc.tm_mon > 12 ||
      utc.tm_mday < 1 || utc.tm_mday > 31 || utc.tm_hour < 0 || utc.tm_hour > 23 ||
      utc.tm_min < 0 || utc.tm_min > 59 || utc.tm_sec < 0 || utc.tm_sec > 60)
    return std::nullopt;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  std::time_t t = timegm(&utc);
  auto time = std::chrono::system_clock::from_time_t(t);
  size_t position = 19;
  if (position < text.size() && text[position] == '.') {
    ++position;
    int64_t micros = 0;
    int digits = 0;
    while (position < text.size() && text[position] >= '0' && text[position] <= '9') {
      if (digits < 6) {
        micros = micros * 10 + (text[position] - '0');
        ++digits;
      }
      ++position;
    }
    while (digits++ < 6) micros *= 10;
    time += std::chrono::microseconds(micros);
  }
  if (position < text.size() && text[position] == 'Z' && position + 1 == text.size()) return time;
  // Numeric offsets: "+02:00".
  if (position + 6 == text.size() && (text[position] == '+' || text[position] == '-')) {
    int hours = 0, minutes = 0;
    if (std::sscanf(text.c_str() + position + 1, "%2d:%2d", &hours, &minutes) != 2 || hours < 0 ||
        hours > 23 || minutes < 0 || minutes > 59)
      return std::nullopt;
    auto offset = std::chrono::hours(hours) + std::chrono::minutes(minutes);
    return text[position] == '+' ? time - offset : time + offset;
  }
  return std::nullopt;
}

}  // namespace sluice::kube
