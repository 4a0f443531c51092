// Kubernetes label selector semantics (metav1.LabelSelector), kept pure for unit tests.
#include "kube/label_selector.h"

#include <algorithm>
#include <set>

namespace sluice::kube {
namespace {

using nlohmann::json;

bool isAlphanumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The label "name" part and label values: at most 63 characters, alphanumerics at both ends,
// '-', '_' and '.' inside.
bool isQualifiedNamePart(const std::string& text) {
  if (text.empty() || text.size() > 63) return false;
  if (!isAlphanumeric(text.front()) || !isAlphanumeric(text.back())) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return isAlphanumeric(c) || c == '-' || c == '_' || c == '.'; });
}

bool isDnsSubdomain(const std::string& text) {
  if (text.empty() || text.size() > 253) return false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t dot = text.find('.', start);
    std::string label =
        text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63) return false;
    auto lowerAlnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!lowerAlnum(label.front()) || !lowerAlnum(label.back())) return false;
    for (char c : label) {
      if (!lowerAlnum(c) && c != '-') return false;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

std::optional<std::string> checkLabelKey(const std::string& key) {
  auto slash = key.find('/');
  std::string name = key;
  if (slash != std::string::npos) {
    std::string prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (!isDnsSubdomain(prefix)) {
      return "prefix \"" + prefix + "\" must be a lowercase DNS subdomain (e.g. example.com)";
    }
  }
  if (!isQualifiedNamePart(name)) {
    return "\"" + key +
           "\" is not a valid label key: the name part must be 1-63 characters, "
           "alphanumeric at both ends, with '-', '_' or '.' inside (e.g. app.kubernetes.io/name)";
  }
  return std::nullopt;
}

std::optional<std::string> checkLabelValue(const std::string& value) {
  if (value.empty() || isQualifiedNamePart(value)) return std::nullopt;
  return "\"" + value +
         "\" is not a valid label value: at most 63 characters, alphanumeric at "
         "both ends, with '-', '_' or '.' inside";
}

Result<SelectorOperator> parseOperator(const json& op, const std::string& field) {
  if (!op.is_string())
    return makeError(field + ": operator is required, use one of In, NotIn, Exists, DoesNotExist");
  const auto& text = op.get_ref<const std::string&>();
  if (text == "In") return SelectorOperator::kIn;
  if (text == "NotIn") return SelectorOperator::kNotIn;
  if (text == "Exists") return SelectorOperator::kExists;
  if (text == "DoesNotExist") return SelectorOperator::kDoesNotExist;
  return makeError(field + ": unsupported operator \"" + text +
                   "\", use one of In, NotIn, Exists, DoesNotExist");
}

const char* operatorName(SelectorOperator op) {
  switch (op) {
    case SelectorOperator::kIn: return "In";
    case SelectorOperator::kNotIn: return "NotIn";
    case SelectorOperator::kExists: return "Exists";
    case SelectorOperator::kDoesNotExist: return "DoesNotExist";
  }
  return "?";
}

Result<SelectorRequirement> parseRequirement(const json& expression, const std::string& field) {
  if (!expression.is_object())
    return makeError(field + ": must be an object with key, operator and values");
  SelectorRequirement requirement;
  auto key = expression.find("key");
  if (key == expression.end() || !key->is_string() || key->get_ref<const std::string&>().empty()) {
    return makeError(field + ".key: a label key is required");
  }
  requirement.key = key->get<std::string>();
  if (auto problem = checkLabelKey(requirement.key)) return makeError(field + ".key: " + *problem);
  auto op = expression.find("operator");
  auto parsedOp = parseOperator(op == expression.end() ? json() : *op, field + ".operator");
  if (!parsedOp) return parsedOp.error();
  requirement.op = *parsedOp;
  auto values = expression.find("values");
  if (values != expression.end() && !values->is_null()) {
    if (!values->is_array()) return makeError(field + ".values: must be a list of strings");
    for (size_t i = 0; i < values->size(); ++i) {
      const auto& value = (*values)[i];
      std::string valueField = field + ".values[" + std::to_string(i) + "]";
      if (!value.is_string()) return makeError(valueField + ": must be a string");
      requirement.values.push_back(value.get<std::string>());
      if (auto problem = checkLabelValue(requirement.values.back())) {
        return makeError(valueField + ": " + *problem);
      }
    }
  }
  bool needsValues =
      requirement.op == SelectorOperator::kIn || requirement.op == SelectorOperator::kNotIn;
  if (needsValues && requirement.values.empty()) {
    return makeError(field + ".values: must be non-empty for operator " +
                     operatorName(requirement.op));
  }
  if (!needsValues && !requirement.values.empty()) {
    return makeError(field + ".values: must be empty for operator " + operatorName(requirement.op) +
                     ", remove the values");
  }
  return requirement;
}

bool requirementMatches(const SelectorRequirement& requirement, const Labels& labels) {
  auto found = labels.find(requirement.key);
  bool has = found != labels.end();
  auto contains = [&] {
    return std::find(requirement.values.begin(), requirement.values.end(), found->second) !=
           requirement.values.end();
  };
  switch (requirement.op) {
    case SelectorOperator::kIn: return has && contains();
    case SelectorOperator::kNotIn: return !has || !contains();
    case SelectorOperator::kExists: return has;
    case SelectorOperator::kDoesNotExist: return !has;
  }
  return false;
}

}  // namespace

Result<LabelSelector> parseLabelSelector(const json& selector, const std::string& field) {
  if (!selector.is_object()) {
    return makeError(
        field +
        ": must be an object with matchLabels and/or matchExpressions ({} selects everything)");
  }
  LabelSelector result;
  auto matchLabels = selector.find("matchLabels");
  if (matchLabels != selector.end() && !matchLabels->is_null()) {
    if (!matchLabels->is_object())
      return makeError(field + ".matchLabels: must be a map of label key to value");
    for (const auto& [key, value] : matchLabels->items()) {
      std::string keyField = field;
      keyField.append(".matchLabels.").append(key);
      if (auto problem = checkLabelKey(key)) return makeError(field + ".matchLabels: " + *problem);
      if (!value.is_string()) return makeError(keyField + ": must be a string");
      if (auto problem = checkLabelValue(value.get<std::string>()))
        return makeError(keyField + ": " + *problem);
      result.matchLabels[key] = value.get<std::string>();
    }
  }
  auto expressions = selector.find("matchExpressions");
  if (expressions != selector.end() && !expressions->is_null()) {
    if (!expressions->is_array()) return makeError(field + ".matchExpressions: must be a list");
    for (size_t i = 0; i < expressions->size(); ++i) {
      auto requirement = parseRequirement((*expressions)[i],
                                          field + ".matchExpressions[" + std::to_string(i) + "]");
      if (!requirement) return requirement.error();
      result.matchExpressions.push_back(std::move(*requirement));
    }
  }
  return result;
}

Result<std::optional<LabelSelector>> parseOptionalLabelSelector(const json& object,
                                                                const std::string& key,
                                                                const std::string& field) {
  if (!object.is_object()) return std::optional<LabelSelector>();
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) return std::optional<LabelSelector>();
  auto parsed = parseLabelSelector(*found, field);
  if (!parsed) return parsed.error();
  return std::optional<LabelSelector>(std::move(*parsed));
}

bool matches(const LabelSelector& selector, const Labels& labels) {
  for (const auto& [key, value] : selector.matchLabels) {
    auto found = labels.find(key);
    if (found == labels.end() || found->second != value) return false;
  }
  return std::all_of(selector.matchExpressions.begin(), selector.matchExpressions.end(),
                     [&](const SelectorRequirement& r) { return requirementMatches(r, labels); });
}

bool matches(const std::optional<LabelSelector>& selector, const Labels& labels) {
  return selector.has_value() && matches(*selector, labels);
}

std::string toQueryString(const LabelSelector& selector) {
  // Kubernetes renders requirements sorted by key (matchLabels become "key=value").
  std::vector<std::pair<std::string, std::string>> parts;
  for (const auto& [key, value] : selector.matchLabels) {
    std::string text = key;
    text.append("=").append(value);
    parts.emplace_back(key, std::move(text));
  }
  for (const auto& requirement : selector.matchExpressions) {
    std::set<std::string> values(requirement.values.begin(), requirement.values.end());
    std::string list;
    for (const auto& value : values) list += (list.empty() ? "" : ",") + value;
    std::string text;
    switch (requirement.op) {
      case SelectorOperator::kIn: text = requirement.key + " in (" + list + ")"; break;
      case SelectorOperator::kNotIn: text = requirement.key + " notin (" + list + ")"; break;
      case SelectorOperator::kExists: text = requirement.key; break;
      case SelectorOperator::kDoesNotExist: text = "!" + requirement.key; break;
    }
    parts.emplace_back(requirement.key, std::move(text));
  }
  std::stable_sort(parts.begin(), parts.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : ",") + part.second;
  return out;
}

Labels labelsOf(const json& object) {
  Labels labels;
  if (!object.is_object()) return labels;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return labels;
  auto found = metadata->find("labels");
  if (found == metadata->end() || !found->is_object()) return labels;
  for (const auto& [key, value] : found->items()) {
    if (value.is_string()) labels[key] = value.get<std::string>();
  }
  return labels;
}

json toJson(const LabelSelector& selector) {
  json out = json::object();
  if (!selector.matchLabels.empty()) out["matchLabels"] = selector.matchLabels;
  if (!selector.matchExpressions.empty()) {
    json list = json::array();
    for (const auto& requirement : selector.matchExpressions) {
      json item = {{"key", requirement.key}, {"operator", operatorName(requirement.op)}};
      if (!requirement.values.empty()) item["values"] = requirement.values;
      list.push_back(std::move(item));
    }
    out["matchExpressions"] = std::move(list);
  }
  return out;
}

}  // namespace sluice::kube
