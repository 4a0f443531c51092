// The checked reader and metadata decoding shared by every model in src/api.
#include "api/object.h"

#include <chrono>

#include "kube/resource.h"

namespace sluice::api {

using nlohmann::json;

bool isUnder(std::string_view field, std::string_view prefix) {
  if (field.substr(0, prefix.size()) != prefix) return false;
  return field.size() == prefix.size() || field[prefix.size()] == '.' ||
         field[prefix.size()] == '[';
}

const Condition* findCondition(const std::vector<Condition>& conditions, std::string_view type) {
  for (const auto& condition : conditions)
    if (condition.type == type) return &condition;
  return nullptr;
}

json toJson(const Condition& condition) {
  return json{{"type", condition.type},
              {"status", condition.status},
              {"reason", condition.reason},
              {"message", condition.message},
              {"lastTransitionTime", condition.lastTransitionTime}};
}

const json* FieldReader::member(const json& parent, std::string_view key) const {
  if (!parent.is_object()) return nullptr;
  auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) return nullptr;
  return &*it;
}

void FieldReader::invalid(const std::string& field, const std::string& detail) {
  problems_.push_back(Problem{field, kind_ + " " + name_ + ": " + detail, detail});
}

void FieldReader::wrongType(const std::string& field, const char* expected, const json& actual) {
  const std::string detail = (field.empty() ? "the object" : field) + " must be " + expected +
                             ", not " + actual.type_name();
  problems_.push_back(Problem{field,
                              kind_ + " " + name_ + " has a field of the wrong type (" + detail +
                                  "); fix the object to match the CRD schema",
                              detail});
}

const json* FieldReader::object(const json& parent, std::string_view key,
                                const std::string& field) {
  const json* value = member(parent, key);
  if (value == nullptr || value->is_object()) return value;
  wrongType(field, "an object", *value);
  return nullptr;
}

const json* FieldReader::array(const json& parent, std::string_view key, const std::string& field) {
  const json* value = member(parent, key);
  if (value == nullptr || value->is_array()) return value;
  wrongType(field, "a list", *value);
  return nullptr;
}

std::optional<std::string> FieldReader::string(const json& parent, std::string_view key,
                                               const std::string& field) {
  const json* value = member(parent, key);
  if (value == nullptr) return std::nullopt;
  if (value->is_string()) return value->get<std::string>();
  wrongType(field, "a string", *value);
  return std::nullopt;
}

std::optional<std::int64_t> FieldReader::integer(const json& parent, std::string_view key,
                                                 const std::string& field) {
  const json* value = member(parent, key);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_integer()) return value->get<std::int64_t>();
  wrongType(field, "an integer", *value);
  return std::nullopt;
}

std::optional<std::vector<std::string>> FieldReader::strings(const json& parent,
                                                             std::string_view key,
                                                             const std::string& field) {
  const json* list = array(parent, key, field);
  if (list == nullptr) return std::nullopt;
  std::vector<std::string> values;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& entry = (*list)[i];
    if (entry.is_string())
      values.push_back(entry.get<std::string>());
    else
      wrongType(field + "[" + std::to_string(i) + "]", "a string", entry);
  }
  return values;
}

std::map<std::string, std::string> FieldReader::stringMap(const json& parent,
                                                          std::string_view key) {
  std::map<std::string, std::string> values;
  const json* map = member(parent, key);
  if (map == nullptr || !map->is_object()) return values;
  for (const auto& [entryKey, value] : map->items())
    if (value.is_string()) values[entryKey] = value.get<std::string>();
  return values;
}

std::optional<kube::LabelSelector> FieldReader::selector(const json& parent, std::string_view key,
                                                         const std::string& field) {
  const json* value = member(parent, key);
  if (value == nullptr) return std::nullopt;
  auto parsed = kube::parseLabelSelector(*value, field);
  if (parsed) return *parsed;
  invalid(field, parsed.error().message);
  return std::nullopt;
}

std::vector<Condition> decodeConditions(FieldReader& reader, const json& status) {
  std::vector<Condition> conditions;
  const json* list = reader.array(status, "conditions", "status.conditions");
  if (list == nullptr) return conditions;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& entry = (*list)[i];
    const std::string field = "status.conditions[" + std::to_string(i) + "]";
    if (!entry.is_object()) {
      reader.wrongType(field, "an object", entry);
      continue;
    }
    conditions.push_back(Condition{
        reader.string(entry, "type", field + ".type").value_or(""),
        reader.string(entry, "status", field + ".status").value_or(""),
        reader.string(entry, "reason", field + ".reason").value_or(""),
        reader.string(entry, "message", field + ".message").value_or(""),
        reader.string(entry, "lastTransitionTime", field + ".lastTransitionTime").value_or("")});
  }
  return conditions;
}

ObjectMeta decodeMeta(const json& object, const std::string& kind, std::vector<Problem>& problems) {
  ObjectMeta meta;
  FieldReader reader(kind, kube::nameOf(object), problems);
  if (!object.is_object()) {
    reader.wrongType("", "a JSON object", object);
    return meta;
  }
  const json* metadata = reader.object(object, "metadata", "metadata");
  if (metadata == nullptr) return meta;
  meta.name = reader.string(*metadata, "name", "metadata.name").value_or("");
  meta.namespaceName = reader.string(*metadata, "namespace", "metadata.namespace").value_or("");
  meta.uid = reader.string(*metadata, "uid", "metadata.uid").value_or("");
  meta.resourceVersion =
      reader.string(*metadata, "resourceVersion", "metadata.resourceVersion").value_or("");
  meta.generation = reader.integer(*metadata, "generation", "metadata.generation").value_or(0);
  const auto created =
      reader.string(*metadata, "creationTimestamp", "metadata.creationTimestamp").value_or("");
  if (const auto time = kube::parseTime(created))
    meta.creationOrder =
        std::chrono::duration_cast<std::chrono::seconds>(time->time_since_epoch()).count();
  meta.labels = reader.stringMap(*metadata, "labels");
  meta.annotations = reader.stringMap(*metadata, "annotations");
  return meta;
}

}  // namespace sluice::api
