// Kubernetes metav1.LabelSelector: parsing from JSON, validation, matching and query-string form.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace sluice::kube {

using Labels = std::map<std::string, std::string>;

enum class SelectorOperator { kIn, kNotIn, kExists, kDoesNotExist };

struct SelectorRequirement {
  std::string key;
  SelectorOperator op = SelectorOperator::kIn;
  std::vector<std::string> values;
};

// A parsed, validated selector. The empty selector matches everything.
struct LabelSelector {
  Labels matchLabels;
  std::vector<SelectorRequirement> matchExpressions;

  bool empty() const { return matchLabels.empty() && matchExpressions.empty(); }
};

// Parses a metav1.LabelSelector. `field` is the selector's path in its object (for example
// "spec.appliedTo.podSelector") so that errors name the exact field. A JSON null is not accepted
// here: callers hold absent selectors as std::nullopt (see matches()).
[[nodiscard]] Result<LabelSelector> parseLabelSelector(const nlohmann::json& selector,
                                                       const std::string& field);

// Parses an optional selector: an absent key or JSON null gives std::nullopt ("matches nothing").
[[nodiscard]] Result<std::optional<LabelSelector>> parseOptionalLabelSelector(
    const nlohmann::json& object, const std::string& key, const std::string& field);

bool matches(const LabelSelector& selector, const Labels& labels);
// Kubernetes semantics: a null (absent) selector matches nothing.
bool matches(const std::optional<LabelSelector>& selector, const Labels& labels);

// The list/watch query form: "a=b,c in (d,e),!f". Values within "in (...)" are sorted, like
// Kubernetes' own rendering, so equal selectors render equally.
std::string toQueryString(const LabelSelector& selector);

// Reads metadata.labels of a Kubernetes object (missing labels -> empty).
Labels labelsOf(const nlohmann::json& object);

nlohmann::json toJson(const LabelSelector& selector);

}  // namespace sluice::kube
