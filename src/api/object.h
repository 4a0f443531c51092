// What every decoded API object shares: its metadata, the problems found while decoding it, and
// the checked reader the models decode with (a field of the wrong JSON type is a problem that
// names the field, never an exception).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/label_selector.h"

namespace sluice::api {

// A field the decoder could not use. `message` is whole: it names the object, the field and the
// fix, and can be shown to a person as it is.
struct Problem {
  std::string field;  // "spec.egressIPs[1]"; "" for the object itself
  std::string message;
  std::string detail;  // the message without the object in front: "spec.nodeSelector: ..."
  bool operator==(const Problem&) const = default;
};

// Whether `field` is `prefix` or lies under it ("spec.appliedTo" covers
// "spec.appliedTo.podSelector" but not "spec.appliedToX").
bool isUnder(std::string_view field, std::string_view prefix);

struct ObjectMeta {
  std::string name;
  std::string namespaceName;  // "" for cluster-scoped objects
  std::string uid;
  std::string resourceVersion;
  std::int64_t generation = 0;
  // creationTimestamp in seconds since the epoch (0 when absent): older objects win conflicts.
  std::int64_t creationOrder = 0;
  kube::Labels labels;  // entries whose value is not a string are left out, as Kubernetes does
  std::map<std::string, std::string> annotations;
};

// One condition of a status (metav1.Condition).
struct Condition {
  std::string type;
  std::string status;  // "True", "False" or "Unknown"
  std::string reason;
  std::string message;
  std::string lastTransitionTime;
  bool operator==(const Condition&) const = default;
};

const Condition* findCondition(const std::vector<Condition>& conditions, std::string_view type);
nlohmann::json toJson(const Condition& condition);

// Reads one object's fields with their types checked. A present field of the wrong type is
// recorded in `problems` ("Egress web has a field of the wrong type (spec.egressIP must be a
// string, not number); fix the object to match the CRD schema") and read as absent. JSON null
// reads as absent everywhere, as Kubernetes treats an optional field set to null.
class FieldReader {
 public:
  FieldReader(std::string kind, std::string name, std::vector<Problem>& problems)
      : kind_(std::move(kind)), name_(std::move(name)), problems_(problems) {}

  // The member `key` of `parent` when it is an object; null when absent (or of the wrong type).
  const nlohmann::json* object(const nlohmann::json& parent, std::string_view key,
                               const std::string& field);
  const nlohmann::json* array(const nlohmann::json& parent, std::string_view key,
                              const std::string& field);
  std::optional<std::string> string(const nlohmann::json& parent, std::string_view key,
                                    const std::string& field);
  std::optional<std::int64_t> integer(const nlohmann::json& parent, std::string_view key,
                                      const std::string& field);
  // A list of strings; a non-string entry is a problem and is left out.
  std::optional<std::vector<std::string>> strings(const nlohmann::json& parent,
                                                  std::string_view key, const std::string& field);
  // A map of strings (labels, annotations), read leniently: the API server only stores string
  // maps there, so anything else reads as empty and entries that are not strings are left out.
  std::map<std::string, std::string> stringMap(const nlohmann::json& parent, std::string_view key);
  // A metav1.LabelSelector; nullopt when absent, null or invalid (then a problem says why).
  std::optional<kube::LabelSelector> selector(const nlohmann::json& parent, std::string_view key,
                                              const std::string& field);

  void wrongType(const std::string& field, const char* expected, const nlohmann::json& actual);
  // A value of the right type that is not valid: `detail` names the field and the fix; the
  // message gets the object in front ("Egress web: spec.destinationCIDRs[0]: ...").
  void invalid(const std::string& field, const std::string& detail);

 private:
  const nlohmann::json* member(const nlohmann::json& parent, std::string_view key) const;

  std::string kind_;
  std::string name_;
  std::vector<Problem>& problems_;
};

// status.conditions; entries that are not objects are problems and left out.
std::vector<Condition> decodeConditions(FieldReader& reader, const nlohmann::json& status);

// Decodes metadata; the object itself not being a JSON object is a problem too. `kind` names it
// in messages ("Egress").
ObjectMeta decodeMeta(const nlohmann::json& object, const std::string& kind,
                      std::vector<Problem>& problems);

}  // namespace sluice::api
